import CDNNL
import Foundation
@testable import PetalCore
import PetalTestSupport
import PetalTraining
import XCTest

/// Replays the gradients of Tests/Fixtures/optimizers.json (made by
/// scripts/fixtures/make_optimizer_fixtures.py with Keras 3) through Petal's optimizers and
/// compares the weights after every step.
final class OptimizerTests: XCTestCase {
    struct Fixture: Decodable {
        struct Case: Decodable {
            let name: String
            let optimizer: String
            let config: [String: ConfigValue]
            let learning_rate_changes: [String: Double]
            let weights_after_step: [[[Float]]]
        }
        let shapes: [[Int]]
        let initial: [[Float]]
        let gradients: [[[Float]]]
        let cases: [Case]
    }

    /// Keras config values are numbers or booleans.
    enum ConfigValue: Decodable {
        case number(Double), flag(Bool)
        init(from decoder: Decoder) throws {
            let c = try decoder.singleValueContainer()
            if let b = try? c.decode(Bool.self) { self = .flag(b) } else { self = .number(try c.decode(Double.self)) }
        }
        var number: Double? { if case let .number(x) = self { return x } else { return nil } }
        var flag: Bool? { if case let .flag(x) = self { return x } else { return nil } }
    }

    func loadFixture() throws -> Fixture {
        let url = Fixtures.url("optimizers.json")
        return try JSONDecoder().decode(Fixture.self, from: Data(contentsOf: url))
    }

    /// Builds the optimizer a fixture case describes, from Keras's argument names, through
    /// `OptimizerSpec` (so its defaults are Keras's too).
    func makeOptimizer(_ c: Fixture.Case) throws -> Optimizer {
        func num(_ k: String) -> Double? { c.config[k]?.number }
        func flag(_ k: String) -> Bool? { c.config[k]?.flag }
        let options = OptimizerOptions(weightDecay: num("weight_decay"), clipNorm: num("clipnorm"),
                                       globalClipNorm: num("global_clipnorm"))
        let kind = try XCTUnwrap(OptimizerSpec.Kind(rawValue: c.optimizer.lowercased()))
        let spec = OptimizerSpec(kind: kind, learningRate: num("learning_rate"), momentum: num("momentum"),
                                 rho: num("rho"), centered: flag("centered"), nesterov: flag("nesterov"),
                                 beta1: num("beta_1"), beta2: num("beta_2"), amsgrad: flag("amsgrad"),
                                 epsilon: num("epsilon"), options: options)
        return try spec.makeOptimizer()
    }

    /// Logical values of a tensor, whatever its layout.
    func values(_ t: Tensor) throws -> [Float] { try t.toArray() }

    func setGradient(_ p: Parameter, _ values: [Float]) throws {
        try p.gradientBuffer().assign(try Tensor(shape: p.shape, values: values))
    }

    func testMatchesKerasOnEveryStep() throws {
        let fixture = try loadFixture()
        XCTAssertGreaterThanOrEqual(fixture.cases.count, 10)
        for c in fixture.cases {
            let optimizer = try makeOptimizer(c)
            let params = try zip(fixture.shapes, fixture.initial).enumerated().map { i, si in
                Parameter(name: "w\(i)", value: try Tensor(shape: si.0, values: si.1))
            }
            for (step, grads) in fixture.gradients.enumerated() {
                if let lr = c.learning_rate_changes[String(step)] { optimizer.learningRate = lr }
                for (p, g) in zip(params, grads) { try setGradient(p, g) }
                try optimizer.step(params)
                XCTAssertEqual(optimizer.iterations, step + 1)
                for (k, p) in params.enumerated() {
                    let got = try values(p.value), want = c.weights_after_step[step][k]
                    let start = fixture.initial[k]
                    for i in 0..<got.count {
                        // Weights within 1e-6 relative, and the change from the start (the
                        // optimizer's own work) within 1e-4 relative of Keras's change.
                        let tol = 1e-6 * max(abs(want[i]), 1e-2)
                        XCTAssertEqual(got[i], want[i], accuracy: tol,
                                       "\(c.name) step \(step + 1) w\(k)[\(i)]")
                        let dGot = got[i] - start[i], dWant = want[i] - start[i]
                        XCTAssertEqual(dGot, dWant, accuracy: 1e-4 * abs(dWant) + 2e-7,
                                       "\(c.name) step \(step + 1) change of w\(k)[\(i)]")
                    }
                }
            }
        }
    }

    /// Keras's defaults, spelled out, so a changed default cannot slip by.
    func testDefaultsAreKeras() {
        let r = RMSprop()
        XCTAssertEqual([r.learningRate, r.rho, r.momentum, r.epsilon], [0.001, 0.9, 0, 1e-7])
        XCTAssertFalse(r.centered)
        let a = Adam()
        XCTAssertEqual([a.learningRate, a.beta1, a.beta2, a.epsilon], [0.001, 0.9, 0.999, 1e-7])
        XCTAssertFalse(a.amsgrad)
        let s = SGD()
        XCTAssertEqual([s.learningRate, s.momentum], [0.01, 0])
        XCTAssertFalse(s.nesterov)
        XCTAssertNil(r.options.weightDecay)
        XCTAssertNil(r.options.clipNorm)
    }

    /// Bad settings are errors that name the setting, not crashes.
    func testSpecRejectsBadSettings() throws {
        func message(_ spec: OptimizerSpec) -> String {
            do { _ = try spec.makeOptimizer(); return "no error" } catch { return "\(error)" }
        }
        XCTAssertEqual(message(OptimizerSpec(kind: .adam, learningRate: -1)),
                       "optimizer: adam: learning rate must be > 0, got -1.0")
        XCTAssertTrue(message(OptimizerSpec(kind: .sgd, rho: 0.9)).contains("rho does not apply to sgd"))
        XCTAssertTrue(message(OptimizerSpec(kind: .rmsprop, momentum: 1.5)).contains("momentum"))
        XCTAssertTrue(message(OptimizerSpec(kind: .rmsprop, options: OptimizerOptions(clipNorm: 1, globalClipNorm: 1)))
            .contains("only one of clipnorm"))
        let sgd = try OptimizerSpec(kind: .sgd).makeOptimizer() as? SGD
        XCTAssertEqual(sgd?.learningRate, 0.01)
        let decoded = try JSONDecoder().decode(OptimizerSpec.self, from: JSONEncoder().encode(
            OptimizerSpec(kind: .rmsprop, learningRate: 1e-4, momentum: 0.9, options: OptimizerOptions(weightDecay: 0.01))))
        XCTAssertEqual(decoded.learningRate, 1e-4)
        XCTAssertEqual(decoded.options.weightDecay, 0.01)
    }

    /// `reset()` makes the optimizer behave as a new one.
    func testResetForgetsState() throws {
        let a = Parameter(name: "a", value: try Tensor(shape: [3], values: [1, 2, 3]))
        let b = Parameter(name: "b", value: try Tensor(shape: [3], values: [1, 2, 3]))
        let used = Adam(learningRate: 0.1)
        try setGradient(a, [1, 2, 3])
        try used.step([a]); try used.step([a])
        used.reset()
        XCTAssertEqual(used.iterations, 0)
        try a.load(try Tensor(shape: [3], values: [1, 2, 3]))
        try setGradient(a, [0.5, -1, 2]); try setGradient(b, [0.5, -1, 2])
        try used.step([a])
        try Adam(learningRate: 0.1).step([b])
        XCTAssertEqual(try values(a.value), try values(b.value))
    }

    /// Frozen parameters and parameters without a gradient are left alone.
    func testSkipsFrozenAndGradientless() throws {
        let frozen = Parameter(name: "frozen", value: try Tensor(shape: [4], values: [1, 2, 3, 4]))
        frozen.trainable = false
        try setGradient(frozen, [1, 1, 1, 1])
        let noGrad = Parameter(name: "nograd", value: try Tensor(shape: [2], values: [5, 6]))
        let live = Parameter(name: "live", value: try Tensor(shape: [2], values: [1, 1]))
        try setGradient(live, [1, -1])
        let versions = (frozen.version, noGrad.version, live.version)
        try SGD(learningRate: 0.5).step([frozen, noGrad, live])
        XCTAssertEqual(try values(frozen.value), [1, 2, 3, 4])
        XCTAssertEqual(try values(noGrad.value), [5, 6])
        XCTAssertEqual(try values(live.value), [0.5, 1.5])
        XCTAssertEqual(frozen.version, versions.0)
        XCTAssertEqual(noGrad.version, versions.1)
        XCTAssertEqual(live.version, versions.2 + 1)
    }

    /// A parameter in a padded blocked layout (oneDNN's OIhw8i8o for a 5x3 kernel: 64
    /// physical elements for 15 logical ones) gets the same update as a row-major one,
    /// and its padding stays zero, for every optimizer and option.
    func testBlockedLayoutUpdatesLikeRowMajorAndKeepsPaddingZero() throws {
        let shape = [5, 3, 1, 1]
        let blocked = TensorLayout(shape: shape, type: .float32, tag: dnnl_OIhw8i8o)
        XCTAssertGreaterThan(blocked.byteCount / 4, 15, "layout must be padded for this test")
        let makers: [() -> Optimizer] = [
            { RMSprop(learningRate: 0.01, momentum: 0.9, centered: true) },
            { RMSprop(options: OptimizerOptions(weightDecay: 0.1, clipNorm: 0.5)) },
            { Adam(learningRate: 0.01, amsgrad: true, options: OptimizerOptions(weightDecay: 0.05)) },
            { SGD(learningRate: 0.1, momentum: 0.9, nesterov: true, options: OptimizerOptions(globalClipNorm: 1)) },
        ]
        let start = (0..<15).map { Float($0) * 0.1 - 0.7 }
        for make in makers {
            let plain = Parameter(name: "k", value: try Tensor(shape: shape, values: start))
            let tiled = Parameter(name: "k", value: try Tensor(shape: shape, values: start))
            try tiled.adopt(layout: blocked)
            let a = make(), b = make()
            for step in 0..<4 {
                let g = (0..<15).map { Float(sin(Double($0 * 7 + step))) }
                try setGradient(plain, g)
                try setGradient(tiled, g)
                try a.step([plain])
                try b.step([tiled])
            }
            let want = try values(plain.value), got = try values(tiled.value)
            for i in 0..<15 { XCTAssertEqual(got[i], want[i], accuracy: 1e-6, "\(a.name) element \(i)") }
            let physical = tiled.value.floats.reduce(0) { $0 + Double($1 * $1) }
            let logical = got.reduce(0) { $0 + Double($1 * $1) }
            XCTAssertEqual(physical, logical, accuracy: 1e-9, "\(a.name): padding must stay zero")
        }
    }

    /// Exported state restored into a fresh optimizer continues exactly where it left off.
    func testStateRoundTripContinuesIdentically() throws {
        let p1 = Parameter(name: "a", value: try Tensor(shape: [2, 3], values: [1, 2, 3, 4, 5, 6]))
        let p2 = Parameter(name: "a", value: try Tensor(shape: [2, 3], values: [1, 2, 3, 4, 5, 6]))
        let first = Adam(learningRate: 0.05, amsgrad: true)
        for s in 0..<3 {
            try setGradient(p1, (0..<6).map { Float($0 - s) })
            try first.step([p1])
        }
        let state = try first.exportState(for: [p1])
        XCTAssertEqual(state.slots.keys.sorted(), ["a/momentum", "a/velocity", "a/velocity_hat"])
        try p2.load(p1.value)
        let second = Adam(amsgrad: true)
        try second.importState(state, for: [p2])
        XCTAssertEqual(second.iterations, 3)
        XCTAssertEqual(second.learningRate, 0.05)
        for s in 3..<5 {
            let g = (0..<6).map { Float($0 * s % 5) - 2 }
            try setGradient(p1, g); try setGradient(p2, g)
            try first.step([p1]); try second.step([p2])
        }
        XCTAssertEqual(try values(p1.value), try values(p2.value))
        XCTAssertThrowsError(try SGD(momentum: 0.9).importState(state, for: [p2])) { error in
            XCTAssertEqual(error as? OptimizerError, .wrongOptimizer(expected: "sgd", found: "adam"))
        }
    }

    /// A step over MobileNetV2-sized parameters (2.2M floats) must take well under a
    /// millisecond per million parameters in a release build; debug builds are far
    /// slower, so this only reports unless PETAL_BENCH is set.
    func testStepSpeedOnMobileNetSizedParameters() throws {
        let sizes = [864, 32, 288, 512, 1_280 * 320, 1_280 * 1_000, 3 * 3 * 960, 960 * 160, 5]
        let params = try sizes.enumerated().map { i, n in
            Parameter(name: "p\(i)", value: try Tensor(layout: .rowMajor([n]), repeating: 0.5))
        }
        for p in params { try p.gradientBuffer().floats.initialize(repeating: 0.01) }
        let total = sizes.reduce(0, +)
        for optimizer in [RMSprop(), Adam(), SGD(momentum: 0.9)] as [Optimizer] {
            try optimizer.step(params)
            let clock = ContinuousClock()
            let runs = 5
            let elapsed = try clock.measure { for _ in 0..<runs { try optimizer.step(params) } }
            let seconds = Double(elapsed.components.attoseconds) / 1e18 + Double(elapsed.components.seconds)
            let msPerMillion = seconds / Double(runs) * 1e3 / (Double(total) / 1e6)
            print("\(optimizer.name): \(String(format: "%.3f", msPerMillion)) ms per million parameters per step")
            if ProcessInfo.processInfo.environment["PETAL_BENCH"] != nil {
                XCTAssertLessThan(msPerMillion, 1.0)
            }
        }
    }
}
