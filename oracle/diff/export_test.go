package diff

// ChunkPairs lets tests make the comparison run in several chunks.
var ChunkPairs = &chunkPairs
