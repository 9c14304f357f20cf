package mysql

import (
	"strings"
)

// The TiDB parser knows no spatial types (TiDB has none), so before a DDL
// statement is parsed, spatialTypes rewrites each spatial type name in a
// column definition into ENUM('sluice-spatial:<name>'), which the parser
// reads and columnDef turns back into the spatial type. MariaDB's
// REF_SYSTEM_ID=n column attribute is dropped the same way. The rewrite
// works on tokens: quoted identifiers, strings and comments are left
// alone, and a spatial word is taken for a type only where a type can
// stand, right after a column's name.

// spatialPrefix marks the enum label that stands for a spatial type.
const spatialPrefix = "sluice-spatial:"

var spatialNames = map[string]bool{
	"geometry": true, "point": true, "linestring": true, "polygon": true, "multipoint": true,
	"multilinestring": true, "multipolygon": true, "geometrycollection": true, "geomcollection": true,
}

// notColumnName lists words after which a spatial word is a name, not a
// type (ADD COLUMN point int, AFTER point, ...).
var notColumnName = map[string]bool{
	"add": true, "column": true, "drop": true, "change": true, "modify": true, "after": true, "table": true,
	"by": true, "on": true, "key": true, "index": true, "alter": true, "rename": true, "to": true, "as": true,
	"select": true, "from": true, "where": true, "set": true, "create": true, "if": true, "exists": true,
	"not": true, "primary": true, "unique": true, "spatial": true, "fulltext": true, "using": true, "like": true,
	"default": true, "comment": true, "constraint": true, "foreign": true, "references": true, "check": true,
	"first": true, "and": true, "or": true, "in": true, "values": true, "into": true, "is": true, "null": true,
}

// spatialTypes returns sql with spatial types rewritten (see above).
func spatialTypes(sql string) string {
	lower := strings.ToLower(sql)
	found := strings.Contains(lower, "ref_system_id")
	for n := range spatialNames {
		if strings.Contains(lower, n) {
			found = true
			break
		}
	}
	if !found {
		return sql
	}
	var b strings.Builder
	prev := "" // the previous significant token: a word lower-cased, "`" for a quoted identifier, or punctuation
	for i := 0; i < len(sql); {
		c := sql[i]
		switch {
		case c == '`' || c == '\'' || c == '"':
			j := i + 1
			for j < len(sql) {
				if sql[j] == '\\' && c != '`' {
					j += 2
					continue
				}
				if sql[j] == c {
					if j+1 < len(sql) && sql[j+1] == c { // doubled quote
						j += 2
						continue
					}
					break
				}
				j++
			}
			j = min(j+1, len(sql))
			b.WriteString(sql[i:j])
			if c == '`' {
				prev = "`"
			} else {
				prev = "'"
			}
			i = j
		case c == '#' || c == '-' && strings.HasPrefix(sql[i:], "-- "):
			j := strings.IndexByte(sql[i:], '\n')
			if j < 0 {
				j = len(sql) - i
			}
			b.WriteString(sql[i : i+j])
			i += j
		case c == '/' && strings.HasPrefix(sql[i:], "/*") && !strings.HasPrefix(sql[i:], "/*!"):
			j := strings.Index(sql[i+2:], "*/")
			if j < 0 {
				j = len(sql) - i - 2
			} else {
				j += 2
			}
			b.WriteString(sql[i : i+2+j])
			i += 2 + j
		case isWordByte(c):
			j := i
			for j < len(sql) && isWordByte(sql[j]) {
				j++
			}
			w := sql[i:j]
			lw := strings.ToLower(w)
			switch {
			case spatialNames[lw] && (prev == "`" || prev != "" && isWordByte(prev[0]) && !notColumnName[prev]):
				b.WriteString("ENUM('" + spatialPrefix + lw + "')")
			case lw == "ref_system_id":
				// REF_SYSTEM_ID=n: drop the attribute and its value.
				k := j
				for k < len(sql) && (sql[k] == ' ' || sql[k] == '=') {
					k++
				}
				for k < len(sql) && sql[k] >= '0' && sql[k] <= '9' {
					k++
				}
				j = k
			default:
				b.WriteString(w)
			}
			prev = lw
			i = j
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			b.WriteByte(c)
			i++
		default:
			b.WriteByte(c)
			prev = string(c)
			i++
		}
	}
	return b.String()
}

func isWordByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '$' || c >= 0x80
}

// mariadbStatement rewrites the leading words of MariaDB statements the
// TiDB parser does not know into ones it does: CREATE OR REPLACE TABLE
// (which replaces the table's schema, as CREATE TABLE does here) and
// ALTER ONLINE TABLE.
func mariadbStatement(sql string) string {
	s := strings.TrimLeft(sql, " \t\r\n")
	var words []string
	var ends []int
	for i := 0; i < len(s) && len(words) < 3; {
		for i < len(s) && (s[i] == ' ' || s[i] == '\t' || s[i] == '\r' || s[i] == '\n') {
			i++
		}
		j := i
		for j < len(s) && isWordByte(s[j]) {
			j++
		}
		if j == i {
			break
		}
		words = append(words, strings.ToLower(s[i:j]))
		ends = append(ends, j)
		i = j
	}
	switch {
	case len(words) == 3 && words[0] == "create" && words[1] == "or" && words[2] == "replace":
		return "CREATE" + s[ends[2]:]
	case len(words) >= 2 && words[0] == "alter" && words[1] == "online":
		return "ALTER" + s[ends[1]:]
	}
	return sql
}
