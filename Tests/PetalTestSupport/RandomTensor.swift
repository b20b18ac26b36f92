import PetalCore

extension SplitMix64 {
    /// A row-major tensor of `shape` whose elements are `value(u)` for successive unit floats u
    /// of this generator, e.g. `g.tensor([2, 3]) { $0 * 2 - 1 }` for values in [-1, 1).
    public mutating func tensor(_ shape: [Int], _ value: (Float) -> Float = { $0 }) throws -> Tensor {
        var values = [Float]()
        values.reserveCapacity(shape.reduce(1, *))
        for _ in 0..<shape.reduce(1, *) { values.append(value(nextUnitFloat())) }
        return try Tensor(shape: shape, values: values)
    }
}
