/// SplitMix64: a small deterministic random generator, so a seed gives the same splits,
/// shuffles, augmentations, initial weights and dropout masks on every machine and Swift
/// version (Swift's default generator is not seedable).
public struct SplitMix64: RandomNumberGenerator, Sendable, Codable {
    public var state: UInt64

    public init(seed: UInt64) { state = seed }

    /// A generator for a sub-stream, e.g. (seed, epoch, image): mixes the parts into one seed.
    public init(seed: UInt64, _ parts: UInt64...) {
        var s = SplitMix64(seed: seed)
        var mixed = s.next()
        for p in parts {
            s = SplitMix64(seed: mixed ^ (p &* 0x9E37_79B9_7F4A_7C15))
            mixed = s.next()
        }
        state = mixed
    }

    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// Uniform in 0..<n (Lemire's multiply-high; the tiny bias is irrelevant here and,
    /// unlike Swift's own `random(in:)`, the algorithm is fixed).
    public mutating func below(_ n: Int) -> Int {
        precondition(n > 0)  // callers draw from non-empty ranges (shuffles, crops): no input reaches this
        return Int(next().multipliedFullWidth(by: UInt64(n)).high)
    }

    /// Uniform in [0, 1).
    public mutating func unit() -> Double { Double(next() >> 11) * (1.0 / 9_007_199_254_740_992.0) }

    /// Uniform in [lo, hi].
    public mutating func uniform(_ lo: Float, _ hi: Float) -> Float { lo + (hi - lo) * Float(unit()) }

    /// Fisher–Yates shuffle with this generator.
    public mutating func shuffle<T>(_ a: inout [T]) {
        guard a.count > 1 else { return }
        for i in stride(from: a.count - 1, to: 0, by: -1) {
            let j = below(i + 1)
            if i != j { a.swapAt(i, j) }
        }
    }

    /// A uniform Float in [0, 1) (24 random bits).
    public mutating func nextUnitFloat() -> Float { Float(next() >> 40) * (1.0 / 16_777_216.0) }
}
