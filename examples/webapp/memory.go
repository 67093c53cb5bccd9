package main

import (
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"
	"unicode/utf8"
)

// Bounds of the in-memory notes.
const (
	maxNoteRunes    = 280
	maxNotesPerUser = 20
	maxNoteUsers    = 10000
)

// note is one line a user saved on the notes page.
type note struct {
	Text  string
	Saved time.Time
}

// noteBook keeps each user's latest notes in memory (a real app would use
// its database): at most maxNotesPerUser each, newest first, for at most
// maxNoteUsers users.
type noteBook struct {
	mu     sync.Mutex
	byUser map[int64][]note
}

func newNoteBook() *noteBook { return &noteBook{byUser: map[int64][]note{}} }

// add saves text for user, or returns why it will not, in words for the
// page ("" when saved).
func (b *noteBook) add(user int64, text string, at time.Time) (problem string) {
	text = strings.TrimSpace(text)
	switch {
	case text == "":
		return "Write something first."
	case !utf8.ValidString(text):
		return "The note is not valid text."
	case utf8.RuneCountInString(text) > maxNoteRunes:
		return fmt.Sprintf("A note can have at most %d characters.", maxNoteRunes)
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if _, ok := b.byUser[user]; !ok && len(b.byUser) >= maxNoteUsers {
		return "The notebook is full; try again later."
	}
	list := append([]note{{Text: text, Saved: at}}, b.byUser[user]...)
	b.byUser[user] = list[:min(len(list), maxNotesPerUser)]
	return ""
}

// list returns user's notes, newest first.
func (b *noteBook) list(user int64) []note {
	b.mu.Lock()
	defer b.mu.Unlock()
	return slices.Clone(b.byUser[user])
}

// maxFlashes bounds the messages waiting to be shown.
const maxFlashes = 10000

// flashes holds one message per session, shown on its next page: what a
// form post says after its redirect (post/redirect/get).
type flashes struct {
	mu  sync.Mutex
	msg map[string]string
}

func newFlashes() *flashes { return &flashes{msg: map[string]string{}} }

// set keeps msg for the session with public id sid, replacing any other.
// When full, the message is dropped: the page then shows none.
func (f *flashes) set(sid, msg string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, ok := f.msg[sid]; ok || len(f.msg) < maxFlashes {
		f.msg[sid] = msg
	}
}

// pop returns and forgets the message of the session with public id sid.
func (f *flashes) pop(sid string) string {
	f.mu.Lock()
	defer f.mu.Unlock()
	m := f.msg[sid]
	delete(f.msg, sid)
	return m
}
