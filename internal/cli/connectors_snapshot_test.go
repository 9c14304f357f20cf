package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sluice-cdc/sluice/configs"
	"github.com/sluice-cdc/sluice/connect"
	"github.com/sluice-cdc/sluice/connect/embedded"
	sluicelog "github.com/sluice-cdc/sluice/log"
	"github.com/sluice-cdc/sluice/sources/datagen"
)

// snapSource is a source that takes ad-hoc snapshots and emits nothing:
// it records what it was asked for. It refuses the table public.nope as
// fatal, and public.flaky as retriable.
type snapSource struct{ k *snapKind }

type snapKind struct {
	mu        sync.Mutex
	requested []string
}

func (*snapKind) Name() string                               { return "snap-source" }
func (*snapKind) Role() connect.Role                         { return connect.RoleSource }
func (*snapKind) Check(*configs.Connector) []configs.Problem { return nil }
func (*snapKind) Tasks(*configs.Connector) int               { return 1 }
func (k *snapKind) NewSource(*configs.Connector, connect.Env) (connect.Source, error) {
	return &snapSource{k: k}, nil
}

func (k *snapKind) asked() []string {
	k.mu.Lock()
	defer k.mu.Unlock()
	return slices.Clone(k.requested)
}

func (s *snapSource) Open(context.Context, connect.Position) error { return nil }
func (s *snapSource) Read(ctx context.Context) (connect.SourceBatch, error) {
	<-ctx.Done()
	return connect.SourceBatch{}, ctx.Err()
}
func (s *snapSource) Ack(context.Context, connect.Position) error { return nil }
func (s *snapSource) Close() error                                { return nil }

func (s *snapSource) RequestSnapshot(_ context.Context, tables []string) error {
	for _, t := range tables {
		switch t {
		case "public.nope":
			return connect.Fatal(fmt.Errorf("table %q is not in publication \"sluice_shop\"; add it to tables: in the config file", t))
		case "public.flaky":
			return connect.Retriable(errors.New("write the snapshot request: connection reset by peer"))
		}
	}
	s.k.mu.Lock()
	s.k.requested = append(s.k.requested, strings.Join(tables, ","))
	s.k.mu.Unlock()
	return nil
}

// startSnapshotNode runs a connector runtime with a snap-source "shop-pg"
// and a datagen-source "gen" over a fresh log, serves its admin REST API,
// and returns the kind and the API's HOST:PORT once gen's source is open.
func startSnapshotNode(t *testing.T) (*snapKind, string) {
	t.Helper()
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	l, err := sluicelog.Open(t.TempDir(), sluicelog.Options{Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	k := &snapKind{}
	reg := connect.NewRegistry()
	reg.Register(k)
	reg.Register(datagen.New())
	rt := connect.NewRuntime(embedded.New(l, 1, 1), reg, connect.RuntimeOptions{Logger: quiet})
	srv := httptest.NewServer(connect.NewRESTHandler(rt, quiet))
	t.Cleanup(func() {
		srv.Close()
		rt.Close()
		l.Close()
	})
	conf := "version: 1\nconnectors:\n" +
		"  - {name: shop-pg, kind: snap-source}\n" +
		"  - {name: gen, kind: datagen-source, config: {rate: 10}}\n"
	cfg, err := configs.Parse("sluice.yaml", []byte(conf), reg.ConfigOptions())
	if err != nil {
		t.Fatal(err)
	}
	if err := rt.Start(cfg.Connectors); err != nil {
		t.Fatal(err)
	}
	// gen (datagen) reports a status once its source is open; shop-pg may
	// still answer 503 at first, which the command retries.
	for deadline := time.Now().Add(20 * time.Second); len(rt.SourceProgress()) < 1; time.Sleep(2 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("timed out waiting for the sources to open")
		}
	}
	return k, srv.Listener.Addr().String()
}

func TestConnectorsSnapshot(t *testing.T) {
	k, addr := startSnapshotNode(t)
	checkOutput(t, "snapshot", runConnectorsOK(t, addr, "snapshot", "shop-pg", "--table", "public.orders", "--table", "public.items"),
		"shop-pg: snapshot of public.orders, public.items requested; its rows follow in the connector's topics as op \"r\" events\n")
	checkOutput(t, "snapshot --json", runConnectorsOK(t, addr, "snapshot", "shop-pg", "--table", "public.orders", "--json"),
		`{"connector":"shop-pg","tables":["public.orders"]}`+"\n")
	if got, want := k.asked(), []string{"public.orders,public.items", "public.orders"}; !slices.Equal(got, want) {
		t.Errorf("the source was asked for %q, want %q", got, want)
	}

	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"unknown connector", []string{"snapshot", "nope", "--table", "public.orders"},
			"sluice: connector \"nope\" not found; \"sluice connectors list\" shows the connectors\n"},
		{"unknown table", []string{"snapshot", "shop-pg", "--table", "public.nope"},
			"sluice: connector \"shop-pg\": table \"public.nope\" is not in publication \"sluice_shop\"; add it to tables: in the config file\n"},
		{"kind without snapshots", []string{"snapshot", "gen", "--table", "datagen.items"},
			"sluice: connector \"gen\": connector kind datagen-source cannot take ad-hoc snapshots; \"sluice connectors reset gen\" starts it over with a new snapshot of all its tables instead\n"},
		{"retriable until --timeout", []string{"snapshot", "shop-pg", "--table", "public.flaky", "--timeout", "300ms"},
			"sluice: connector \"shop-pg\": write the snapshot request: connection reset by peer\n"},
	} {
		code, stdout, stderr := runConnectors(t, addr, tc.args...)
		if code != ExitFailure || stdout != "" || stderr != tc.want {
			t.Errorf("%s: exit %d, stdout %q, stderr\n%q\nwant exit 1 and\n%q", tc.name, code, stdout, stderr, tc.want)
		}
	}

	checkOutput(t, "pause", runConnectorsOK(t, addr, "pause", "shop-pg"), "shop-pg: pause requested\n")
	code, _, stderr := runConnectors(t, addr, "snapshot", "shop-pg", "--table", "public.orders")
	checkOutput(t, "snapshot of a paused connector", fmt.Sprint(code, " ", stderr),
		"1 sluice: connector \"shop-pg\" is PAUSED; an ad-hoc snapshot needs it RUNNING: run \"sluice connectors resume shop-pg\", then ask again\n")
	runConnectorsOK(t, addr, "resume", "shop-pg")
	// Just resumed, the task may be reopening its source: the node
	// answers 503 meanwhile, and the command asks again.
	runConnectorsOK(t, addr, "snapshot", "shop-pg", "--table", "public.customers")
	if got := k.asked(); len(got) != 3 || got[2] != "public.customers" {
		t.Errorf("after resume the source was asked for %q", got)
	}
}

func TestConnectorsSnapshotUsage(t *testing.T) {
	_, addr := startAdminAPI(t)
	for _, args := range [][]string{
		{"snapshot", "shop-pg"},
		{"snapshot", "shop-pg", "--table", ""},
		{"snapshot", "--table", "public.orders"},
		{"snapshot", "a", "b", "--table", "public.orders"},
	} {
		if code, _, stderr := runConnectors(t, addr, args...); code != ExitUsage {
			t.Errorf("connectors %q: exit %d, want 2; stderr: %s", args, code, stderr)
		}
	}
	code, stdout, _ := runMain(t, "connectors", "--help")
	if code != ExitOK || !strings.Contains(stdout, "  snapshot ") {
		t.Errorf("connectors help lacks snapshot:\n%s", stdout)
	}
}
