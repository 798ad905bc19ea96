// Training: see README.md ("Where things live").
