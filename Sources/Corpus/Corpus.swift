// Corpus: see README.md ("Where things live").
