import Foundation
import PetalCore

/// Adam as in Keras 3 (`keras.optimizers.Adam`), with Keras's defaults.
///
/// Per step t (1-based) and element, with gradient g:
///
///     alpha = lr * sqrt(1 - beta2^t) / (1 - beta1^t)
///     m += (g - m) * (1 - beta1)
///     v += (g² - v) * (1 - beta2)
///     amsgrad: vHat = max(vHat, v), used in place of v
///     w -= m * alpha / (sqrt(v) + epsilon)
///
/// Keras's epsilon is the "epsilon hat" of the paper (added after the bias correction
/// folded into alpha), not PyTorch's. With `options.weightDecay` this is Keras's AdamW.
public final class Adam: SlotOptimizer {
    public var learningRate: Double
    public let beta1: Double
    public let beta2: Double
    public let epsilon: Double
    public let amsgrad: Bool
    public var options: OptimizerOptions
    public internal(set) var iterations = 0
    public var name: String { "adam" }

    /// Slots in Keras's names: momentum, velocity, and velocity_hat with amsgrad.
    let slots: SlotStore

    public init(learningRate: Double = 0.001, beta1: Double = 0.9, beta2: Double = 0.999,
                epsilon: Double = 1e-7, amsgrad: Bool = false, options: OptimizerOptions = .none) {
        self.learningRate = learningRate; self.beta1 = beta1; self.beta2 = beta2
        self.epsilon = epsilon; self.amsgrad = amsgrad; self.options = options
        slots = SlotStore(names: ["momentum", "velocity"] + (amsgrad ? ["velocity_hat"] : []))
    }

    public func step(_ parameters: [Parameter]) throws {
        // Keras computes these scalars in float32 from the float32 step count.
        let t = Float(iterations + 1)
        let beta1Power = powf(Float(beta1), t), beta2Power = powf(Float(beta2), t)
        let alpha = Float(learningRate) * (1 - beta2Power).squareRoot() / (1 - beta1Power)
        // Keras forms 1 - beta in double precision, then casts: not 1 - Float(beta).
        let oneMinusBeta1 = Float(1 - beta1), oneMinusBeta2 = Float(1 - beta2)
        let eps = Float(epsilon), amsgrad = amsgrad
        try UpdateDriver.run(parameters, options: options, learningRate: learningRate, slots: slots) {
            w, g, slots, n, scale in
            let m = slots[0].floatPointer, v = slots[1].floatPointer
            if amsgrad {
                let vHat = slots[2].floatPointer
                for i in 0..<n {
                    let gi = g[i] * scale
                    m[i] += (gi - m[i]) * oneMinusBeta1
                    v[i] += (gi * gi - v[i]) * oneMinusBeta2
                    vHat[i] = max(vHat[i], v[i])
                    w[i] -= m[i] * alpha / (vHat[i].squareRoot() + eps)
                }
            } else {
                for i in 0..<n {
                    let gi = g[i] * scale
                    m[i] += (gi - m[i]) * oneMinusBeta1
                    v[i] += (gi * gi - v[i]) * oneMinusBeta2
                    w[i] -= m[i] * alpha / (v[i].squareRoot() + eps)
                }
            }
        }
        iterations += 1
    }
}
