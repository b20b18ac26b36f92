// PetalWeights
