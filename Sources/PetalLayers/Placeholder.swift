// PetalLayers
