// Models: see README.md ("Where things live").
