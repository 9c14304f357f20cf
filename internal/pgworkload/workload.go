// Package pgworkload is a seeded, random workload of row changes for a
// PostgreSQL database, and the check that the change events a
// postgres-source wrote to its topics rebuild exactly the tables the
// workload left behind. The capture tests of sources/postgres and the
// crash tests of internal/cli share it; nothing in the product imports it.
//
// # The tables
//
//	wl_items   id bigint PRIMARY KEY, n int, s text, amount numeric(12,2), flag bool, b bytea
//	wl_pairs   a int, b text, v int, note text, PRIMARY KEY (a, b)
//	wl_bag     x int, y text, z numeric — no key, REPLICA IDENTITY FULL
//	wl_fence   id int PRIMARY KEY, n bigint — only Fence writes it
//
// Setup creates them and a few hundred rows, which an initial snapshot
// reads.
//
// # The workload
//
// Run commits transactions of one to eight statements: inserts, updates
// of one row or of many, updates that change a primary key, deletes. Some
// transactions are rolled back, some roll back to a savepoint, and at
// fixed points of the run the schema changes (wl_items gains a column with
// a default, loses one, and has an int column turned into bigint; wl_pairs
// gains a column with a default), the keyless table is truncated (once
// inside a transaction that goes on writing), and one transaction changes
// more than 1000 rows. Every value a rolled-back statement writes starts with
// Marker, so that a change that must never be captured is recognisable.
//
// The workload decides from its seed alone which statements to send; the
// rows they touch depend only on the database's contents, so a run with
// the same seed on a fresh database sends the same statements, unless
// faults interrupt it.
//
// # The check
//
// Check takes every record of the topics, rebuilds each table from its
// change events and compares it, value by value as text, with the table
// in PostgreSQL (see rebuild.go).
package pgworkload

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
)

// Marker begins every value that a rolled-back statement writes.
const Marker = "rolledback-"

// Tables are the captured tables, schema-qualified, in the order a config
// lists them.
var Tables = []string{"public.wl_items", "public.wl_pairs", "public.wl_bag", "public.wl_fence"}

// keys are the primary-key columns of each table; wl_bag has none.
var keys = map[string][]string{
	"wl_items": {"id"},
	"wl_pairs": {"a", "b"},
	"wl_fence": {"id"},
}

const setupSQL = `
CREATE TABLE public.wl_items (id bigint PRIMARY KEY, n int, s text, amount numeric(12,2), flag bool, b bytea);
CREATE TABLE public.wl_pairs (a int, b text, v int, note text, PRIMARY KEY (a, b));
CREATE TABLE public.wl_bag (x int, y text, z numeric);
ALTER TABLE public.wl_bag REPLICA IDENTITY FULL;
CREATE TABLE public.wl_fence (id int PRIMARY KEY, n bigint NOT NULL);
INSERT INTO public.wl_fence VALUES (1, 0);
INSERT INTO public.wl_items SELECT g, g % 17, 'seed ' || g, g * 1.25, g % 2 = 0, decode(lpad(to_hex(g), 4, '0'), 'hex') FROM generate_series(1, 200) g;
INSERT INTO public.wl_pairs SELECT g % 20, 'k' || (g / 20), g, NULL FROM generate_series(1, 100) g;
INSERT INTO public.wl_bag SELECT g % 7, 'bag ' || (g % 5), g % 3 FROM generate_series(1, 60) g;
`

// Setup creates the workload's tables in the database of dsn and fills
// them with the rows the initial snapshot reads.
func Setup(ctx context.Context, dsn string) error {
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return fmt.Errorf("pgworkload: connect: %w", err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, setupSQL); err != nil {
		return fmt.Errorf("pgworkload: setup: %w", err)
	}
	return nil
}

// Options tune a Workload. The zero value is usable.
type Options struct {
	// Seed makes the run reproducible. Default: 0 (a fixed seed).
	Seed uint64
	// Transactions is how many transactions Run sends, schema changes
	// included. Default: 500.
	Transactions int
	// Tolerate makes Run go on after a failed transaction (a server
	// restart, a network cut): it reconnects, retrying until ctx ends,
	// and sends the next transaction. The failed one may or may not have
	// committed; Check compares with the database, not with a model.
	// Default: false, the first error ends Run.
	Tolerate bool
	// Between, when set, is called before transaction i (from 0), on
	// Run's goroutine, while no transaction is open.
	Between func(i int)
	// During, when set, is called in the middle of transaction i, while
	// it is open on the server: a fault injected there interrupts a
	// transaction. It returns whether it did anything.
	During func(i int) bool
	// Logf receives a line per schema change and per tolerated failure.
	// Default: none.
	Logf func(format string, args ...any)
}

// Stats counts what a run did.
type Stats struct {
	Committed, RolledBack, Failed int
	Statements                    int
}

// Workload sends the workload to one database. It is not safe for
// concurrent use.
type Workload struct {
	dsn  string
	opts Options
	rng  *rand.Rand
	conn *pgx.Conn

	nextID   int64 // next fresh wl_items id
	nextA    int   // next fresh wl_pairs a
	hasFlag  bool  // wl_items still has flag
	hasExtra bool  // wl_items has extra
	hasTag   bool  // wl_pairs has tag
	fence    int64 // the last Fence value
	cur      int   // the transaction being sent
	runs     int   // calls of Run
	stats    Stats

	// Defaults holds, for each column the workload added with a default,
	// that default as text: rows that no event touched after the column
	// came have it in the database, but no change event says so.
	Defaults map[string]map[string]string
}

// New returns a workload on the database of dsn, which Setup prepared.
func New(dsn string, opts Options) *Workload {
	if opts.Transactions <= 0 {
		opts.Transactions = 500
	}
	return &Workload{
		dsn: dsn, opts: opts, rng: rand.New(rand.NewPCG(opts.Seed, opts.Seed^0x5eed)),
		nextID: 1000, nextA: 1000, hasFlag: true,
		Defaults: map[string]map[string]string{},
	}
}

// Stats returns what the workload did so far.
func (w *Workload) Stats() Stats { return w.stats }

func (w *Workload) logf(format string, args ...any) {
	if w.opts.Logf != nil {
		w.opts.Logf(format, args...)
	}
}

// Close closes the workload's connection.
func (w *Workload) Close() {
	if w.conn != nil {
		w.conn.Close(context.Background())
		w.conn = nil
	}
}

// connect (re)connects, retrying while Tolerate is set and ctx lives.
func (w *Workload) connect(ctx context.Context) error {
	if w.conn != nil && !w.conn.IsClosed() {
		return nil
	}
	w.Close()
	for {
		cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		conn, err := pgx.Connect(cctx, w.dsn)
		cancel()
		if err == nil {
			w.conn = conn
			return nil
		}
		if !w.opts.Tolerate || ctx.Err() != nil {
			return fmt.Errorf("pgworkload: connect: %w", err)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// Run sends the workload's transactions. Run may be called again: the
// next run sends as many more, without the fixed steps (the schema
// changes are made once).
func (w *Workload) Run(ctx context.Context) error {
	n := w.opts.Transactions
	// Fixed points of the run, as fractions of it.
	at := func(f float64) int { return int(float64(n) * f) }
	if w.runs++; w.runs > 1 {
		at = func(float64) int { return -1 }
	}
	special := map[int]func(context.Context, int) error{
		at(0.20): w.bulk,
		at(0.25): w.ddl("ALTER TABLE public.wl_items ADD COLUMN extra int DEFAULT 7", func() { w.hasExtra = true; w.addDefault("wl_items", "extra", "7") }),
		at(0.35): w.ddl("TRUNCATE public.wl_bag", nil),
		at(0.45): w.ddl("ALTER TABLE public.wl_items DROP COLUMN flag", func() { w.hasFlag = false }),
		at(0.50): w.ddl("ALTER TABLE public.wl_pairs ADD COLUMN tag text DEFAULT 'new'", func() { w.hasTag = true; w.addDefault("wl_pairs", "tag", "new") }),
		at(0.65): w.ddl("ALTER TABLE public.wl_items ALTER COLUMN n TYPE bigint", nil),
		at(0.75): w.truncateInTx,
	}
	for i := 0; i < n; i++ {
		if err := ctx.Err(); err != nil {
			return err
		}
		w.cur = i
		if w.opts.Between != nil {
			w.opts.Between(i)
		}
		step := w.transaction
		if f, ok := special[i]; ok {
			step = f
		}
		err := w.connect(ctx)
		if err == nil {
			err = step(ctx, i)
		}
		if err == nil {
			continue
		}
		if !w.opts.Tolerate || ctx.Err() != nil {
			return fmt.Errorf("pgworkload: transaction %d: %w", i, err)
		}
		w.stats.Failed++
		w.logf("pgworkload: transaction %d failed (tolerated): %v", i, err)
		w.Close()
		if _, ok := special[i]; ok {
			// The later statements rely on a fixed step: send it
			// again until it is in. A retried ALTER whose first try
			// did commit fails harmlessly (see ddl).
			i--
		}
	}
	return nil
}

func (w *Workload) addDefault(table, col, def string) {
	if w.Defaults[table] == nil {
		w.Defaults[table] = map[string]string{}
	}
	w.Defaults[table][col] = def
}

// ddl returns a step that runs sql in a transaction of its own and then
// calls after.
func (w *Workload) ddl(sql string, after func()) func(context.Context, int) error {
	return func(ctx context.Context, i int) error {
		w.logf("pgworkload: transaction %d: %s", i, sql)
		if _, err := w.conn.Exec(ctx, sql); err != nil {
			if strings.Contains(sql, "ALTER") && isDuplicateDDL(err) {
				// A retry of a change that did commit before a fault.
				err = nil
			} else {
				return err
			}
		}
		w.stats.Statements++
		w.stats.Committed++
		if after != nil {
			after()
		}
		return nil
	}
}

// isDuplicateDDL reports whether err says that a column to add exists or a
// column to drop does not: the change was already made.
func isDuplicateDDL(err error) bool {
	s := err.Error()
	return strings.Contains(s, "already exists") || strings.Contains(s, "does not exist")
}

// bulk changes more than 1000 rows of wl_items in one transaction, so that
// it spans several batches.
func (w *Workload) bulk(ctx context.Context, i int) error {
	first := w.nextID
	w.nextID += 1200
	w.logf("pgworkload: transaction %d: 1200 inserts and an update of every row", i)
	return w.inTx(ctx, []string{
		fmt.Sprintf("INSERT INTO public.wl_items (id, n, s, amount) SELECT g, g %% 11, 'bulk ' || g, g / 100.0 FROM generate_series(%d, %d) g", first, first+1199),
		"UPDATE public.wl_items SET s = s || '+'",
	}, false)
}

// truncateInTx truncates wl_bag and wl_pairs in a transaction that writes before and
// after the truncate.
//
// The keyed wl_pairs is truncated too: its truncate goes to every
// partition of its topic (foldTruncates).
func (w *Workload) truncateInTx(ctx context.Context, i int) error {
	w.logf("pgworkload: transaction %d: TRUNCATE wl_bag amid other writes", i)
	return w.inTx(ctx, []string{
		w.insertPair(),
		w.insertBag(false),
		w.updateBag(false),
		"TRUNCATE public.wl_bag",
		"TRUNCATE public.wl_pairs",
		w.insertPair(),
		w.insertBag(false),
		w.insertItem(false),
	}, false)
}

// transaction sends one random transaction: committed, rolled back, or
// committed with a part rolled back to a savepoint.
func (w *Workload) transaction(ctx context.Context, i int) error {
	kind := w.rng.IntN(20)
	n := 1 + w.rng.IntN(8)
	var stmts []string
	for range n {
		stmts = append(stmts, w.statement(kind == 0))
	}
	if kind == 1 || kind == 2 {
		// A savepoint whose statements are rolled back, then more
		// statements that commit.
		at := w.rng.IntN(len(stmts) + 1)
		sp := []string{"SAVEPOINT sp"}
		for range 1 + w.rng.IntN(3) {
			sp = append(sp, w.statement(true))
		}
		sp = append(sp, "ROLLBACK TO SAVEPOINT sp")
		stmts = append(stmts[:at], append(sp, stmts[at:]...)...)
	}
	return w.inTx(ctx, stmts, kind == 0)
}

// inTx runs stmts in one transaction, committing it or rolling it back.
// During runs after the first half of the statements.
func (w *Workload) inTx(ctx context.Context, stmts []string, rollback bool) error {
	tx, err := w.conn.Begin(ctx)
	if err != nil {
		return err
	}
	defer tx.Rollback(context.Background())
	for j, sql := range stmts {
		if j == len(stmts)/2 && w.opts.During != nil {
			w.opts.During(w.cur)
		}
		if _, err := tx.Exec(ctx, sql); err != nil {
			return fmt.Errorf("%s: %w", sql, err)
		}
		w.stats.Statements++
	}
	if rollback {
		w.stats.RolledBack++
		return tx.Rollback(ctx)
	}
	if err := tx.Commit(ctx); err != nil {
		return err
	}
	w.stats.Committed++
	return nil
}

// statement returns one random data statement; with marked, every value it
// writes starts with Marker (it is going to be rolled back).
func (w *Workload) statement(marked bool) string {
	switch r := w.rng.IntN(100); {
	case r < 22:
		return w.insertItem(marked)
	case r < 37:
		return w.updateItem(marked)
	case r < 42:
		return w.updateItems(marked)
	case r < 47:
		return w.changeItemKey(marked)
	case r < 53:
		return w.deleteItem()
	case r < 63:
		return w.insertPair()
	case r < 70:
		return w.updatePair(marked)
	case r < 75:
		return w.changePairKey()
	case r < 79:
		return w.deletePair()
	case r < 88:
		return w.insertBag(marked)
	case r < 94:
		return w.updateBag(marked)
	default:
		return w.deleteBag()
	}
}

// text returns a random string value, marked or not.
func (w *Workload) text(marked bool) string {
	s := fmt.Sprintf("v%d", w.rng.IntN(100000))
	if w.rng.IntN(10) == 0 {
		s = "it's " + s // a quote to escape
	}
	if marked {
		s = Marker + s
	}
	return "'" + strings.ReplaceAll(s, "'", "''") + "'"
}

// textOrNull is text, or NULL one time in eight unless marked.
func (w *Workload) textOrNull(marked bool) string {
	if !marked && w.rng.IntN(8) == 0 {
		return "NULL"
	}
	return w.text(marked)
}

func (w *Workload) amount() string {
	return fmt.Sprintf("%d.%02d", w.rng.IntN(100000)-20000, w.rng.IntN(100))
}

// anItem is a WHERE clause picking one existing wl_items row, or none.
func (w *Workload) anItem() string {
	return fmt.Sprintf("id = (SELECT id FROM public.wl_items WHERE id >= %d ORDER BY id LIMIT 1)", w.rng.Int64N(w.nextID+50))
}

func (w *Workload) insertItem(marked bool) string {
	id := w.nextID
	w.nextID++
	cols := "id, n, s, amount, b"
	vals := fmt.Sprintf("%d, %d, %s, %s, '\\x%08x'", id, w.rng.IntN(1000), w.textOrNull(marked), w.amount(), w.rng.Uint32())
	if w.hasFlag {
		cols += ", flag"
		vals += []string{", true", ", false", ", NULL"}[w.rng.IntN(3)]
	}
	if w.hasExtra && w.rng.IntN(2) == 0 {
		cols += ", extra"
		vals += fmt.Sprintf(", %d", w.rng.IntN(100))
	}
	return fmt.Sprintf("INSERT INTO public.wl_items (%s) VALUES (%s)", cols, vals)
}

func (w *Workload) updateItem(marked bool) string {
	set := fmt.Sprintf("n = %d, s = %s", w.rng.IntN(1000), w.textOrNull(marked))
	switch w.rng.IntN(4) {
	case 0:
		set += ", amount = " + w.amount()
	case 1:
		set += fmt.Sprintf(", b = '\\x%016x'", w.rng.Uint64())
	case 2:
		if w.hasExtra {
			set += fmt.Sprintf(", extra = %d", w.rng.IntN(100))
		}
	}
	return "UPDATE public.wl_items SET " + set + " WHERE " + w.anItem()
}

// updateItems updates many rows with one statement.
func (w *Workload) updateItems(marked bool) string {
	if marked {
		return fmt.Sprintf("UPDATE public.wl_items SET s = %s WHERE id %% 13 = %d", w.text(true), w.rng.IntN(13))
	}
	return fmt.Sprintf("UPDATE public.wl_items SET n = n + 1 WHERE id %% 13 = %d", w.rng.IntN(13))
}

// changeItemKey gives a row a fresh primary key.
func (w *Workload) changeItemKey(marked bool) string {
	id := w.nextID
	w.nextID++
	return fmt.Sprintf("UPDATE public.wl_items SET id = %d, s = %s WHERE %s", id, w.textOrNull(marked), w.anItem())
}

func (w *Workload) deleteItem() string {
	return "DELETE FROM public.wl_items WHERE " + w.anItem()
}

// aPair is a WHERE clause picking one existing wl_pairs row, or none.
func (w *Workload) aPair() string {
	from := w.rng.IntN(45)
	if w.rng.IntN(3) == 0 {
		from = 1000 + w.rng.IntN(w.nextA-1000+5) // rows whose key changed
	}
	return fmt.Sprintf("(a, b) = (SELECT a, b FROM public.wl_pairs WHERE a >= %d ORDER BY a, b LIMIT 1)", from)
}

func (w *Workload) insertPair() string {
	cols, vals := "a, b, v, note", fmt.Sprintf("%d, 'k%d', %d, %s", w.rng.IntN(40), w.rng.IntN(8), w.rng.IntN(1000), w.textOrNull(false))
	if w.hasTag && w.rng.IntN(2) == 0 {
		cols += ", tag"
		vals += ", " + w.textOrNull(false)
	}
	return fmt.Sprintf("INSERT INTO public.wl_pairs (%s) VALUES (%s) ON CONFLICT (a, b) DO UPDATE SET v = EXCLUDED.v + 1", cols, vals)
}

func (w *Workload) updatePair(marked bool) string {
	return fmt.Sprintf("UPDATE public.wl_pairs SET v = %d, note = %s WHERE %s", w.rng.IntN(1000), w.textOrNull(marked), w.aPair())
}

// changePairKey changes one column of a composite key to a fresh value.
func (w *Workload) changePairKey() string {
	a := w.nextA
	w.nextA++
	if w.rng.IntN(2) == 0 {
		return fmt.Sprintf("UPDATE public.wl_pairs SET a = %d WHERE %s", a, w.aPair())
	}
	return fmt.Sprintf("UPDATE public.wl_pairs SET b = 'fresh%d' WHERE %s", a, w.aPair())
}

func (w *Workload) deletePair() string {
	return "DELETE FROM public.wl_pairs WHERE " + w.aPair()
}

// insertBag inserts a row into the keyless table, often one that is there
// already (its rows form a multiset).
func (w *Workload) insertBag(marked bool) string {
	y := fmt.Sprintf("'bag %d'", w.rng.IntN(5))
	if marked {
		y = w.text(true)
	}
	return fmt.Sprintf("INSERT INTO public.wl_bag VALUES (%d, %s, %d)", w.rng.IntN(7), y, w.rng.IntN(3))
}

// aBagRow is a WHERE clause picking one row of wl_bag by its ctid (one of
// several equal rows).
func (w *Workload) aBagRow() string {
	return fmt.Sprintf("ctid = (SELECT ctid FROM public.wl_bag WHERE x >= %d ORDER BY x, y, z LIMIT 1)", w.rng.IntN(8))
}

func (w *Workload) updateBag(marked bool) string {
	if w.rng.IntN(4) == 0 && !marked {
		// Every equal row at once.
		return fmt.Sprintf("UPDATE public.wl_bag SET z = z + 1 WHERE x = %d AND y = 'bag %d'", w.rng.IntN(7), w.rng.IntN(5))
	}
	y := "y"
	if marked {
		y = w.text(true)
	}
	return fmt.Sprintf("UPDATE public.wl_bag SET z = %d, y = %s WHERE %s", w.rng.IntN(3), y, w.aBagRow())
}

func (w *Workload) deleteBag() string {
	return "DELETE FROM public.wl_bag WHERE " + w.aBagRow()
}

// Fence commits a change to wl_fence and returns its value: once the
// fence topic holds a record with that value, every transaction that
// committed before Fence was called is in the log too.
func (w *Workload) Fence(ctx context.Context) (int64, error) {
	for {
		err := w.connect(ctx)
		if err == nil {
			w.fence++
			_, err = w.conn.Exec(ctx, fmt.Sprintf("UPDATE public.wl_fence SET n = %d WHERE id = 1", w.fence))
			if err == nil {
				return w.fence, nil
			}
			w.fence--
		}
		if !w.opts.Tolerate || ctx.Err() != nil {
			return 0, errors.Join(err, ctx.Err())
		}
		w.Close()
		time.Sleep(100 * time.Millisecond)
	}
}
