import Foundation
import PetalCore

/// Pairs of images under different classes whose features point the same way: the cosine
/// similarity of their pretrained features is at least `threshold`. The same photo saved
/// twice (re-encoded, resized, lightly cropped) scores about 0.99 and above; different
/// photos of one species rarely pass 0.95.
public enum NearDuplicates {
    /// The default threshold, documented in the README.
    public static let defaultThreshold = 0.98

    public struct Pair: Sendable, Equatable {
        public var first: Int
        public var second: Int
        public var similarity: Double
    }

    /// Cross-class pairs (first < second) at or above `threshold`, most similar first (ties by
    /// index), at most `limit`. Similarities are computed in blocks through oneDNN's inner
    /// product (the `Dense` kernel), so memory holds `block` rows of similarities at a time.
    public static func find(rows: [Float], dimension: Int, labels: [Int], threshold: Double = defaultThreshold,
                            limit: Int = 1000, block: Int = 256) throws -> [Pair] {
        let n = labels.count
        guard n > 1, dimension > 0, rows.count == n * dimension else { return [] }
        var unit = rows
        for i in 0..<n {
            var norm = 0.0
            for c in 0..<dimension { norm += Double(rows[i * dimension + c]) * Double(rows[i * dimension + c]) }
            let scale = norm > 0 ? Float(1 / norm.squareRoot()) : 0
            for c in 0..<dimension { unit[i * dimension + c] *= scale }
        }
        let all = try Tensor(shape: [n, dimension], values: unit)
        let zeros = try Tensor(zeros: [n])
        var pairs: [Pair] = []
        for start in stride(from: 0, to: n, by: block) {
            let rowsHere = min(block, n - start)
            let part = try Tensor(shape: [rowsHere, dimension],
                                  values: Array(unit[(start * dimension)..<((start + rowsHere) * dimension)]))
            let similarities = try Tensor(zeros: [rowsHere, n])
            try InnerProductKernel.cached(batch: rowsHere, inputs: dimension, outputs: n)
                .forward(source: part, weights: all, bias: zeros, destination: similarities)
            withExtendedLifetime(similarities) {
                let s = similarities.floats
                for r in 0..<rowsHere {
                    let i = start + r
                    for j in (i + 1)..<max(i + 1, n) where labels[j] != labels[i] {
                        let value = Double(s[r * n + j])
                        if value >= threshold { pairs.append(Pair(first: i, second: j, similarity: min(value, 1))) }
                    }
                }
            }
        }
        pairs.sort { $0.similarity != $1.similarity ? $0.similarity > $1.similarity : ($0.first, $0.second) < ($1.first, $1.second) }
        return Array(pairs.prefix(limit))
    }
}
