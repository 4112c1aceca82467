//go:build pprof

// Built only with -tags pprof (bench/run.sh PPROF=1): net/http/pprof on the loopback address
// in $SEALGATE_PPROF, for profiling a running server. Release builds do not contain it.

package main

import (
	"net/http"
	_ "net/http/pprof"
	"os"
	"runtime"
)

func init() {
	if addr := os.Getenv("SEALGATE_PPROF"); addr != "" {
		runtime.SetBlockProfileRate(10000)
		runtime.SetMutexProfileFraction(10)
		go http.ListenAndServe(addr, nil)
	}
}
