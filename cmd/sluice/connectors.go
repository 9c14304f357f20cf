package main

import (
	"github.com/sluice-cdc/sluice/connect"
	"github.com/sluice-cdc/sluice/sinks/file"
	"github.com/sluice-cdc/sluice/sources/datagen"
	"github.com/sluice-cdc/sluice/sources/mysql"
	"github.com/sluice-cdc/sluice/sources/postgres"
)

// connectors are the connector kinds compiled into this binary.
func connectors() *connect.Registry {
	reg := connect.NewRegistry()
	reg.Register(datagen.New())
	reg.Register(file.New())
	reg.Register(postgres.New())
	reg.Register(mysql.New())
	return reg
}
