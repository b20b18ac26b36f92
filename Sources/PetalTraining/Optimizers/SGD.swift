import PetalCore

/// Stochastic gradient descent as in Keras 3 (`keras.optimizers.SGD`), with Keras's
/// defaults.
///
///     momentum == 0: w -= lr * g
///     otherwise:     m = momentum * m - lr * g
///                    nesterov: w += momentum * m - lr * g
///                    else:     w += m
public final class SGD: SlotOptimizer {
    public var learningRate: Double
    public let momentum: Double
    public let nesterov: Bool
    public var options: OptimizerOptions
    public internal(set) var iterations = 0
    public var name: String { "sgd" }

    /// Keras's "momentum" slot, only when momentum is used.
    let slots: SlotStore

    public init(learningRate: Double = 0.01, momentum: Double = 0, nesterov: Bool = false,
                options: OptimizerOptions = .none) {
        precondition(momentum >= 0 && momentum <= 1, "SGD: momentum must be in [0, 1], got \(momentum)")
        self.learningRate = learningRate; self.momentum = momentum; self.nesterov = nesterov
        self.options = options
        slots = SlotStore(names: momentum != 0 ? ["momentum"] : [])
    }

    public func step(_ parameters: [Parameter]) throws {
        let lr = Float(learningRate), mom = Float(momentum)
        let useMomentum = momentum != 0, nesterov = nesterov
        try UpdateDriver.run(parameters, options: options, learningRate: learningRate, slots: slots) {
            w, g, slots, n, scale in
            if !useMomentum {
                for i in 0..<n { w[i] -= g[i] * scale * lr }
                return
            }
            let m = slots[0].floatPointer
            if nesterov {
                for i in 0..<n {
                    let step = g[i] * scale * lr
                    m[i] = m[i] * mom - step
                    w[i] += m[i] * mom - step
                }
            } else {
                for i in 0..<n {
                    m[i] = m[i] * mom - g[i] * scale * lr
                    w[i] += m[i]
                }
            }
        }
        iterations += 1
    }
}
