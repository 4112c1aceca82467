package pgstore

import "strings"

// The triggers of the migrations are written with these builders, so that every statement
// trigger has one shape: a PL/pgSQL function that returns NULL and the AFTER … FOR EACH
// STATEMENT triggers that run it. The text they build is part of released migrations:
// TestMigrationsUnchanged holds it to the bytes first released.

// trigger is one AFTER … FOR EACH STATEMENT trigger: its name, the event ("INSERT",
// "UPDATE", "DELETE", or several joined by OR), the table, and the REFERENCING clause that
// names its transition tables (empty: none).
type trigger struct {
	name, event, table, rows string
}

// onRows is a trigger whose statement's rows are the transition table rel: the new rows of an
// INSERT or UPDATE, the old rows of a DELETE.
func onRows(name, event, table, rel string) trigger {
	side := "NEW"
	if event == "DELETE" {
		side = "OLD"
	}
	return trigger{name, event, table, side + " TABLE AS " + rel}
}

// onEveryChange is the INSERT, UPDATE and DELETE triggers of table, named table_ins,
// table_upd and table_del, with the rows each touched as changed.
func onEveryChange(table string) []trigger {
	return []trigger{
		onRows(table+"_ins", "INSERT", table, "changed"),
		onRows(table+"_upd", "UPDATE", table, "changed"),
		onRows(table+"_del", "DELETE", table, "changed"),
	}
}

// statementTriggers is the SQL that creates the trigger function fn, which runs body (lines
// indented by one tab) and returns NULL, and the triggers that run it.
func statementTriggers(fn, body string, triggers ...trigger) string {
	var b strings.Builder
	b.WriteString("CREATE FUNCTION " + fn + "() RETURNS trigger LANGUAGE plpgsql AS $$\nBEGIN\n")
	b.WriteString(body)
	b.WriteString("\tRETURN NULL;\nEND $$;\n")
	for _, t := range triggers {
		b.WriteString("CREATE TRIGGER " + t.name + " AFTER " + t.event + " ON " + t.table)
		if t.rows != "" {
			b.WriteString(" REFERENCING " + t.rows)
		}
		b.WriteString("\n\tFOR EACH STATEMENT EXECUTE FUNCTION " + fn + "();\n")
	}
	return b.String()
}
