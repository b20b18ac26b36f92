// PetalModels
