import PetalCore

/// RMSprop as in Keras 3 (`keras.optimizers.RMSprop`), with Keras's defaults.
///
/// Per element, with gradient g:
///
///     velocity = rho * velocity + (1 - rho) * g²
///     centered:  average = rho * average + (1 - rho) * g
///                increment = lr * g / sqrt(velocity - average² + epsilon)
///     otherwise: increment = lr * g / sqrt(velocity + epsilon)
///     momentum > 0: buffer = momentum * buffer + increment;  w -= buffer
///     otherwise:    w -= increment
///
/// Keras 3 puts epsilon inside the square root (Keras 2 and PyTorch add it outside).
public final class RMSprop: SlotOptimizer {
    public var learningRate: Double
    public let rho: Double
    public let momentum: Double
    public let epsilon: Double
    public let centered: Bool
    public var options: OptimizerOptions
    public internal(set) var iterations = 0
    public var name: String { "rmsprop" }

    /// Slots in Keras's names: velocity, then momentum and average_gradient if used.
    let slots: SlotStore

    public init(learningRate: Double = 0.001, rho: Double = 0.9, momentum: Double = 0,
                epsilon: Double = 1e-7, centered: Bool = false, options: OptimizerOptions = .none) {
        precondition(momentum >= 0, "RMSprop: momentum must be >= 0, got \(momentum)")
        self.learningRate = learningRate; self.rho = rho; self.momentum = momentum
        self.epsilon = epsilon; self.centered = centered; self.options = options
        slots = SlotStore(names: ["velocity"] + (momentum > 0 ? ["momentum"] : [])
                          + (centered ? ["average_gradient"] : []))
    }

    public func step(_ parameters: [Parameter]) throws {
        // Keras forms 1 - rho in double precision, then casts: not 1 - Float(rho).
        let lr = Float(learningRate), rho = Float(rho), oneMinusRho = Float(1 - self.rho)
        let eps = Float(epsilon), mom = Float(momentum)
        let useMomentum = momentum > 0, centered = centered
        try UpdateDriver.run(parameters, options: options, learningRate: learningRate, slots: slots) {
            w, g, slots, n, scale in
            let v = slots[0].floatPointer
            let buf = useMomentum ? slots[1].floatPointer : v
            let avg = centered ? slots[useMomentum ? 2 : 1].floatPointer : v
            // Four specialised loops keep each one branch-free and vectorisable.
            switch (centered, useMomentum) {
            case (false, false):
                for i in 0..<n {
                    let gi = g[i] * scale
                    v[i] = rho * v[i] + oneMinusRho * gi * gi
                    w[i] -= lr * gi / (v[i] + eps).squareRoot()
                }
            case (false, true):
                for i in 0..<n {
                    let gi = g[i] * scale
                    v[i] = rho * v[i] + oneMinusRho * gi * gi
                    buf[i] = mom * buf[i] + lr * gi / (v[i] + eps).squareRoot()
                    w[i] -= buf[i]
                }
            case (true, false):
                for i in 0..<n {
                    let gi = g[i] * scale
                    v[i] = rho * v[i] + oneMinusRho * gi * gi
                    avg[i] = rho * avg[i] + oneMinusRho * gi
                    w[i] -= lr * gi / (v[i] - avg[i] * avg[i] + eps).squareRoot()
                }
            case (true, true):
                for i in 0..<n {
                    let gi = g[i] * scale
                    v[i] = rho * v[i] + oneMinusRho * gi * gi
                    avg[i] = rho * avg[i] + oneMinusRho * gi
                    buf[i] = mom * buf[i] + lr * gi / (v[i] - avg[i] * avg[i] + eps).squareRoot()
                    w[i] -= buf[i]
                }
            }
        }
        iterations += 1
    }
}
