package validate

import "runtime"

func runtimeGOROOT() string { return runtime.GOROOT() }
