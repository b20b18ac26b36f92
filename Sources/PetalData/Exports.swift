// PetalData works on PetalCore tensors and its seeded generator throughout.
@_exported import PetalCore
