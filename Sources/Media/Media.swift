// Media: see README.md ("Where things live").
