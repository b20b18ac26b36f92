import Foundation
import PetalCore

/// Class weights and label smoothing for the training loss: PyTorch's
/// `CrossEntropyLoss(weight=w, label_smoothing=ε, reduction="mean")` (1.13), Keras's
/// `class_weight` and `CategoricalCrossentropy(label_smoothing=ε)`.
public struct LossWeighting: Sendable, Equatable, Codable {
    /// One positive weight per class, or nil for all 1.
    public var classWeights: [Float]?
    /// ε in 0..<1: the targets become (1-ε)·onehot + ε/K.
    public var labelSmoothing: Float

    public init(classWeights: [Float]? = nil, labelSmoothing: Float = 0) {
        self.classWeights = classWeights
        self.labelSmoothing = labelSmoothing
    }

    /// Plain cross-entropy.
    public static let none = LossWeighting()

    public var isNone: Bool { classWeights == nil && labelSmoothing == 0 }
}

extension SoftmaxCrossEntropy {
    /// Cross-entropy with class weights w and label smoothing ε, reduced as PyTorch 1.13 does
    /// (`CrossEntropyLoss(weight=w, label_smoothing=ε)` with reduction "mean"): with
    /// ℓᵢⱼ = −log pᵢⱼ and S = Σᵢ w[yᵢ] (the sum of the weights of the batch's true classes, not N),
    ///
    ///     loss = [ (1−ε) Σᵢ w[yᵢ] ℓᵢ,yᵢ  +  (ε/K) Σᵢ Σⱼ wⱼ ℓᵢⱼ ] / S
    ///
    /// so with weights the smoothing term is weighted by every class's weight, and without
    /// weights it is the mean over the batch of the cross-entropy against (1−ε)·onehot + ε/K.
    /// The gradient with respect to the logits is [(1−ε) w[yᵢ](pᵢⱼ − δ) + (ε/K)(W pᵢⱼ − wⱼ)] / S,
    /// W = Σⱼ wⱼ. With `.none` this is `evaluate(logits:labels:)` exactly.
    public static func evaluate(logits: Tensor, labels: [Int], weighting: LossWeighting) throws -> Result {
        // The plain pass checks the labels and gives the probabilities and accuracy; the loss
        // and gradient are then weighted from the same log-sum-exp.
        var result = try evaluate(logits: logits, labels: labels)
        if weighting.isNone { return result }
        let x = try logits.rowMajor()
        let (n, k) = (x.shape[0], x.shape[1])
        let w = (weighting.classWeights ?? [Float](repeating: 1, count: k)).map(Double.init)
        guard w.count == k else {
            throw LayerError.invalidLabels(reason: "\(w.count) class weights for a model with \(k) classes")
        }
        let epsilon = Double(weighting.labelSmoothing)
        let weightSum = w.reduce(0, +)
        let norm = labels.reduce(0.0) { $0 + w[$1] }
        let z = x.floats, g = result.logitsGradient.floats
        var scratch = [Float](repeating: 0, count: k)
        var total = 0.0
        for row in 0..<n {
            let base = row * k
            let (_, maximum, logSum) = scratch.withUnsafeMutableBufferPointer {
                softmaxRow(z.baseAddress! + base, count: k, into: $0.baseAddress!)
            }
            let label = labels[row]
            // −log p_ij = logSum − (z_ij − max)
            var smooth = 0.0
            for j in 0..<k { smooth += w[j] * (logSum - Double(z[base + j] - maximum)) }
            total += (1 - epsilon) * w[label] * (logSum - Double(z[base + label] - maximum)) + epsilon / Double(k) * smooth
            for j in 0..<k {
                let pj = Double(result.probabilities[base + j])
                let hard = (1 - epsilon) * w[label] * (pj - (j == label ? 1 : 0))
                g[base + j] = Float((hard + epsilon / Double(k) * (weightSum * pj - w[j])) / norm)
            }
        }
        withExtendedLifetime(x) {}
        result.loss = total / norm
        return result
    }
}
