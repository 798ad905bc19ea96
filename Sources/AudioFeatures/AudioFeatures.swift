// AudioFeatures: see README.md ("Where things live").
