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
        for row in 0..<n {
            let base = row * k
            var maximum = -Float.infinity
            var best = 0
            for j in 0..<k where z[base + j] > maximum { maximum = z[base + j]; best = j }
            var sum = 0.0
            for j in 0..<k { sum += exp(Double(z[base + j] - maximum)) }
            let logSum = log(sum)
            let label = labels[row]
            total += logSum - Double(z[base + label] - maximum)
            for j in 0..<k {
                let p = Float(exp(Double(z[base + j] - maximum) - logSum))
                probabilities[base + j] = p
                g[base + j] = (p - (j == label ? 1 : 0)) / Float(n)
            }
            if best == label { correct += 1 }
        }
        withExtendedLifetime(x) {}
        return Result(loss: total / Double(n), probabilities: probabilities, logitsGradient: gradient, correct: correct)
    }

    /// Row-wise softmax of (N, K) logits, row-major.
    public static func softmax(_ logits: Tensor) throws -> [Float] {
        let x = try logits.rowMajor()
        let (n, k) = (x.shape[0], x.shape[1])
        var out = [Float](repeating: 0, count: n * k)
        withExtendedLifetime(x) {
            let z = x.floats
            for row in 0..<n {
                let base = row * k
                var maximum = -Float.infinity
                for j in 0..<k { maximum = max(maximum, z[base + j]) }
                var sum: Float = 0
                for j in 0..<k { out[base + j] = exp(z[base + j] - maximum); sum += out[base + j] }
                for j in 0..<k { out[base + j] /= sum }
            }
        }
        return out
    }
}
