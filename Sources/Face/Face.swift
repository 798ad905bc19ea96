// Face: see README.md ("Where things live").
