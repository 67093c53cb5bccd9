package browsertest

import (
	"bytes"
	"cmp"
	"image"
	"image/color"
	"image/png"
	"slices"
)

// SmallPNG re-encodes a screenshot for a README: at most colours colours
// (the most frequent, others mapped to the nearest; no dithering, which
// flat user interfaces do not need) and the best zlib compression. A
// screenshot of a console view at 800 pixels wide comes to a few tens of
// kilobytes.
func SmallPNG(data []byte, colours int) ([]byte, error) {
	img, err := png.Decode(bytes.NewReader(data))
	if err != nil {
		return nil, err
	}
	colours = min(max(colours, 2), 256)
	b := img.Bounds()
	rgba := func(x, y int) color.NRGBA { return color.NRGBAModel.Convert(img.At(x, y)).(color.NRGBA) }
	exact := map[color.NRGBA]int{}
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			exact[rgba(x, y)]++
		}
	}
	// Colours are grouped in buckets of 5 bits a channel; a bucket is
	// represented by its most frequent colour, so flat areas keep theirs.
	type bucket struct {
		best  color.NRGBA
		bestN int
		n     int
	}
	buckets := map[uint32]*bucket{}
	for c, n := range exact {
		k := uint32(c.R>>3)<<15 | uint32(c.G>>3)<<10 | uint32(c.B>>3)<<5 | uint32(c.A>>3)
		bk := buckets[k]
		if bk == nil {
			bk = &bucket{}
			buckets[k] = bk
		}
		bk.n += n
		if n > bk.bestN || n == bk.bestN && less(c, bk.best) {
			bk.best, bk.bestN = c, n
		}
	}
	all := make([]*bucket, 0, len(buckets))
	for _, bk := range buckets {
		all = append(all, bk)
	}
	slices.SortFunc(all, func(x, y *bucket) int {
		if c := cmp.Compare(y.n, x.n); c != 0 {
			return c
		}
		if less(x.best, y.best) {
			return -1
		}
		return 1
	})
	pal := make(color.Palette, 0, colours)
	for _, bk := range all[:min(colours, len(all))] {
		pal = append(pal, bk.best)
	}
	out := image.NewPaletted(b, pal)
	nearest := map[color.NRGBA]uint8{}
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			c := rgba(x, y)
			i, ok := nearest[c]
			if !ok {
				i = uint8(pal.Index(c))
				nearest[c] = i
			}
			out.SetColorIndex(x, y, i)
		}
	}
	var buf bytes.Buffer
	enc := png.Encoder{CompressionLevel: png.BestCompression}
	if err := enc.Encode(&buf, out); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// less orders colours, to make the palette the same on every run.
func less(a, b color.NRGBA) bool {
	return uint32(a.R)<<24|uint32(a.G)<<16|uint32(a.B)<<8|uint32(a.A) <
		uint32(b.R)<<24|uint32(b.G)<<16|uint32(b.B)<<8|uint32(b.A)
}
