// Tensor: see README.md ("Where things live").
