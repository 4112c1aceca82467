package mailstore

// SchemaBeforeCounts is the schema of a database from before mailbox_counts, for the tests
// of package mailstore_test that build one.
func SchemaBeforeCounts() []string {
	var out []string
	for _, part := range schemaParts() {
		if part != schemaCounts {
			out = append(out, part)
		}
	}
	return out
}

// SchemaVersion is the schema version this store writes.
const SchemaVersion = schemaVersion
