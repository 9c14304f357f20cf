package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/spf13/cobra"
)

func connectorsSnapshotCmd(g *globals, f *adminFlags) *cobra.Command {
	var tables []string
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "snapshot NAME --table SCHEMA.TABLE [--table ...] [--json]",
		Short: "Make a running source read tables again (an ad-hoc, incremental snapshot) while it streams",
		Long: `Snapshot asks a running source connector to read the given tables again, as
Debezium's execute-snapshot signal does: POST /connectors/NAME/snapshot with
{"tables":[...]}. Name each table as the source does, schema.table for
postgres-source (db.table for mysql-source); the source must capture it.

It returns once the node has made the request durable (it survives a restart
of sluice), printing

  shop-pg: snapshot of public.orders requested; its rows follow in the connector's topics as op "r" events

The rows are read while streaming goes on, interleaved with the changes so
that none is lost or overwritten by a stale row; "sluice connectors status
NAME" shows the progress per table. The connector must be RUNNING. While the
node answers that it cannot take the request for now (HTTP 503: the source
is reconnecting), the request is sent again, for --timeout at most. With
--json it prints the node's answer, {"connector":"shop-pg","tables":[...]}.`,
		Args: cobra.ExactArgs(1),
		RunE: action(func(cmd *cobra.Command, args []string) error {
			name := args[0]
			if len(tables) == 0 {
				return usageError("name the tables to snapshot with --table SCHEMA.TABLE (once per table)")
			}
			for _, t := range tables {
				if strings.TrimSpace(t) == "" {
					return usageError("--table %q: empty; name the table as schema.table", t)
				}
			}
			a, err := newAdminClient(cmd, f)
			if err != nil {
				return err
			}
			body, err := requestSnapshot(cmd.Context(), a, name, tables)
			if err != nil {
				return err
			}
			if asJSON {
				return writeRaw(g.stdout, body)
			}
			path := connectorPath(name, "/snapshot")
			var answer struct {
				Tables []string `json:"tables"`
			}
			if err := a.decodeAnswer("POST", path, body, &answer); err != nil {
				return err
			}
			_, err = fmt.Fprintf(g.stdout, "%s: snapshot of %s requested; its rows follow in the connector's topics as op \"r\" events\n", name, strings.Join(answer.Tables, ", "))
			return err
		}),
	}
	cmd.Flags().StringArrayVar(&tables, "table", nil, "a table to read again, as schema.table (repeat for more)")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the admin API's JSON answer")
	return cmd
}

// requestSnapshot posts the snapshot request and returns the answer's
// body. While the node answers 503 (it cannot take the request for now)
// it asks again, for the client's timeout at most.
func requestSnapshot(ctx context.Context, a *adminClient, name string, tables []string) ([]byte, error) {
	reqBody, err := json.Marshal(struct {
		Tables []string `json:"tables"`
	}{tables})
	if err != nil {
		return nil, err
	}
	path := connectorPath(name, "/snapshot")
	deadline := time.Now().Add(a.timeout)
	for wait := 50 * time.Millisecond; ; wait = min(2*wait, time.Second) {
		_, body, err := a.send(ctx, "POST", path, name, reqBody)
		var ae *adminAPIError
		if err == nil || !errors.As(err, &ae) || ae.code != http.StatusServiceUnavailable || time.Now().Add(wait).After(deadline) {
			return body, err
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, ctx.Err()
		case <-t.C:
		}
	}
}
