package promexport_test

import (
	"fmt"
	"log"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/propops/propsec/promexport"
	"github.com/propops/propsec/security"
)

// An Exporter on a registry of the host's own. In a host it is given to
// the packages' Config.Observer; here it is told of two logins directly.
func ExampleExporter() {
	reg := prometheus.NewRegistry()
	exp, err := promexport.New(promexport.Config{Registerer: reg})
	if err != nil {
		log.Fatal(err)
	}
	exp.Observe(security.Measurement{Kind: security.KindLogin, Result: "ok"})
	exp.Observe(security.Measurement{Kind: security.KindLogin, Result: "throttled"})

	fams, err := reg.Gather()
	if err != nil {
		log.Fatal(err)
	}
	for _, f := range fams {
		if f.GetName() != "propsec_logins_total" {
			continue
		}
		for _, m := range f.GetMetric() {
			if v := m.GetCounter().GetValue(); v > 0 {
				fmt.Printf("%s{result=%q} %g\n", f.GetName(), m.GetLabel()[0].GetValue(), v)
			}
		}
	}
	// Output:
	// propsec_logins_total{result="ok"} 1
	// propsec_logins_total{result="throttled"} 1
}
