// Shards: see README.md ("Where things live").
