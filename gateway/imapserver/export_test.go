package imapserver

// FetchChunkSize is how many messages FETCH reads from the store at a time.
const FetchChunkSize = fetchChunkSize

// WithoutComments is withoutComments, for its table test and fuzz target.
var WithoutComments = withoutComments
