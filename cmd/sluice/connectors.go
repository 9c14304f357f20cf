package main

import (
	"github.com/sluice-cdc/sluice/connect"
	"github.com/sluice-cdc/sluice/sinks/file"
	"github.com/sluice-cdc/sluice/sources/datagen"
)

// connectors are the connector kinds compiled into this binary.
func connectors() *connect.Registry {
	reg := connect.NewRegistry()
	reg.Register(datagen.New())
	reg.Register(file.New())
	return reg
}
