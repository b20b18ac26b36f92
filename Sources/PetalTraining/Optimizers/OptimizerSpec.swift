import Foundation

/// A Codable description of an optimizer, as the command line or a run's saved
/// configuration gives it: the kind and Keras's arguments, with Keras's defaults for any
/// left out. `makeOptimizer()` checks the values and builds the optimizer.
public struct OptimizerSpec: Sendable, Equatable, Codable {
    public enum Kind: String, Sendable, Codable, CaseIterable { case rmsprop, adam, sgd }

    public var kind: Kind
    /// Nil: the kind's Keras default (0.001 for RMSprop and Adam, 0.01 for SGD).
    public var learningRate: Double?
    /// RMSprop and SGD.
    public var momentum: Double?
    /// RMSprop's rho.
    public var rho: Double?
    public var centered: Bool?
    public var nesterov: Bool?
    public var beta1: Double?
    public var beta2: Double?
    public var amsgrad: Bool?
    public var epsilon: Double?
    public var options: OptimizerOptions

    public init(kind: Kind, learningRate: Double? = nil, momentum: Double? = nil, rho: Double? = nil,
                centered: Bool? = nil, nesterov: Bool? = nil, beta1: Double? = nil, beta2: Double? = nil,
                amsgrad: Bool? = nil, epsilon: Double? = nil, options: OptimizerOptions = .none) {
        self.kind = kind; self.learningRate = learningRate; self.momentum = momentum; self.rho = rho
        self.centered = centered; self.nesterov = nesterov; self.beta1 = beta1; self.beta2 = beta2
        self.amsgrad = amsgrad; self.epsilon = epsilon; self.options = options
    }

    /// The optimizer, or an error naming the first bad or misplaced value.
    public func makeOptimizer() throws(OptimizerError) -> Optimizer {
        func check(_ ok: Bool, _ message: @autoclosure () -> String) throws(OptimizerError) {
            if !ok { throw .invalidOption("\(kind.rawValue): \(message())") }
        }
        func unused(_ value: Any?, _ name: String) throws(OptimizerError) {
            try check(value == nil, "\(name) does not apply to \(kind.rawValue)")
        }
        if let lr = learningRate { try check(lr > 0 && lr.isFinite, "learning rate must be > 0, got \(lr)") }
        if let e = epsilon { try check(e >= 0, "epsilon must be >= 0, got \(e)") }
        if let wd = options.weightDecay { try check(wd >= 0 && wd.isFinite, "weight decay must be >= 0, got \(wd)") }
        if let c = options.clipNorm { try check(c > 0, "clipnorm must be > 0, got \(c)") }
        if let c = options.globalClipNorm { try check(c > 0, "global clipnorm must be > 0, got \(c)") }
        try check(options.clipNorm == nil || options.globalClipNorm == nil,
                  "only one of clipnorm and global clipnorm can be set")
        switch kind {
        case .rmsprop:
            try unused(nesterov, "nesterov"); try unused(beta1, "beta1"); try unused(beta2, "beta2")
            try unused(amsgrad, "amsgrad")
            if let m = momentum { try check(m >= 0 && m < 1, "momentum must be in [0, 1), got \(m)") }
            if let r = rho { try check(r >= 0 && r < 1, "rho must be in [0, 1), got \(r)") }
            return RMSprop(learningRate: learningRate ?? 0.001, rho: rho ?? 0.9, momentum: momentum ?? 0,
                           epsilon: epsilon ?? 1e-7, centered: centered ?? false, options: options)
        case .adam:
            try unused(momentum, "momentum"); try unused(rho, "rho"); try unused(centered, "centered")
            try unused(nesterov, "nesterov")
            for (name, b) in [("beta1", beta1), ("beta2", beta2)] {
                if let b { try check(b >= 0 && b < 1, "\(name) must be in [0, 1), got \(b)") }
            }
            return Adam(learningRate: learningRate ?? 0.001, beta1: beta1 ?? 0.9, beta2: beta2 ?? 0.999,
                        epsilon: epsilon ?? 1e-7, amsgrad: amsgrad ?? false, options: options)
        case .sgd:
            try unused(rho, "rho"); try unused(centered, "centered"); try unused(beta1, "beta1")
            try unused(beta2, "beta2"); try unused(amsgrad, "amsgrad"); try unused(epsilon, "epsilon")
            if let m = momentum { try check(m >= 0 && m <= 1, "momentum must be in [0, 1], got \(m)") }
            return SGD(learningRate: learningRate ?? 0.01, momentum: momentum ?? 0, nesterov: nesterov ?? false,
                       options: options)
        }
    }
}
