import Foundation
import PetalCore

/// Softmax followed by categorical cross-entropy on one-hot labels, Keras's
/// `Dense(activation="softmax")` + `categorical_crossentropy`, computed together from the
/// logits so that it stays finite for any logits (log-sum-exp with the maximum subtracted).
public enum SoftmaxCrossEntropy {
    public struct Result {
        /// Mean loss over the batch.
        public var loss: Double
        /// Softmax probabilities, row-major (N, K).
        public var probabilities: [Float]
        /// Gradient of the mean loss with respect to the logits, (N, K) row-major.
        public var logitsGradient: Tensor
        /// How many rows' highest probability is the true class.
        public var correct: Int
    }

    /// `labels` are class indices (the one-hot rows' hot positions).
    public static func evaluate(logits: Tensor, labels: [Int]) throws -> Result {
        let x = try logits.rowMajor()
        let (n, k) = (x.shape[0], x.shape[1])
        guard labels.count == n else { throw LayerError.invalidLabels(reason: "\(labels.count) labels for \(n) images") }
        if let bad = labels.first(where: { $0 < 0 || $0 >= k }) {
            throw LayerError.invalidLabels(reason: "class index \(bad) for a model with \(k) classes")
        }
        let gradient = try Tensor(zeros: [n, k])
        var probabilities = [Float](repeating: 0, count: n * k)
        let z = x.floats, g = gradient.floats
        var total = 0.0
        var correct = 0
        probabilities.withUnsafeMutableBufferPointer { p in
            for row in 0..<n {
                let base = row * k
                let (best, maximum, logSum) = softmaxRow(z.baseAddress! + base, count: k, into: p.baseAddress! + base)
                let label = labels[row]
                total += logSum - Double(z[base + label] - maximum)
                for j in 0..<k { g[base + j] = (p[base + j] - (j == label ? 1 : 0)) / Float(n) }
                if best == label { correct += 1 }
            }
        }
        withExtendedLifetime(x) {}
        return Result(loss: total / Double(n), probabilities: probabilities, logitsGradient: gradient, correct: correct)
    }

    /// Row-wise softmax of (N, K) logits, row-major: the probabilities `evaluate` gives,
    /// bit for bit, so inference and the trainer's evaluation agree.
    public static func softmax(_ logits: Tensor) throws -> [Float] {
        let x = try logits.rowMajor()
        let (n, k) = (x.shape[0], x.shape[1])
        var out = [Float](repeating: 0, count: n * k)
        withExtendedLifetime(x) {
            let z = x.floats
            out.withUnsafeMutableBufferPointer { p in
                for row in 0..<n { _ = softmaxRow(z.baseAddress! + row * k, count: k, into: p.baseAddress! + row * k) }
            }
        }
        return out
    }

    /// One row's softmax through a log-sum-exp in Double with the maximum subtracted (finite
    /// for any finite logits); returns the first arg-max, the maximum and log(sum).
    @inline(__always)
    static func softmaxRow(_ z: UnsafePointer<Float>, count k: Int, into out: UnsafeMutablePointer<Float>)
        -> (best: Int, maximum: Float, logSum: Double) {
        var maximum = -Float.infinity
        var best = 0
        for j in 0..<k where z[j] > maximum { maximum = z[j]; best = j }
        var sum = 0.0
        for j in 0..<k { sum += exp(Double(z[j] - maximum)) }
        let logSum = log(sum)
        for j in 0..<k { out[j] = Float(exp(Double(z[j] - maximum) - logSum)) }
        return (best, maximum, logSum)
    }
}
