// NN: see README.md ("Where things live").
