// PetalData
