import XCTest
import PetalCore
import PetalTestSupport

/// Primitives are created once per shape and layout: a training step after the first
/// creates none (creation costs milliseconds; a MobileNetV2 step runs ~150 primitives).
final class PrimitiveCacheTests: XCTestCase {
    private func random(_ shape: [Int], seed: UInt64) throws -> Tensor {
        var g = SplitMix64(seed: seed)
        return try g.tensor(shape) { $0 * 2 - 1 }
    }

    /// A conv -> batch norm -> ReLU6 -> global average pool network on the typed kernels,
    /// forward and backward with input and gradients in row-major layout (so reorders run
    /// too). Returns the input gradient and weight gradient, row-major.
    private struct SmallNetwork {
        let spec = ConvolutionSpec(input: [2, 8, 6, 6], outputChannels: 16, kernel: [3, 3], stride: [2, 2],
                                   padding: [0, 1, 0, 1], hasBias: true)
        let weights: Tensor, bias: Tensor, gamma: Tensor, beta: Tensor

        func step(_ x: Tensor, _ dy: Tensor) throws -> (dx: [Float], dw: [Float]) {
            let conv = try ConvolutionKernel.cached(spec, training: true)
            let w = try weights.reordered(to: conv.weightsLayout)
            let y = try Tensor(layout: conv.destinationLayout)
            try conv.forward(source: x, weights: w, bias: bias, destination: y)
            let bn = try BatchNormKernel.cached(layout: y.layout, epsilon: 1e-3, statistics: .batch)
            let mean = try Tensor(zeros: [16]), variance = try Tensor(zeros: [16])
            let normalized = try Tensor(layout: y.layout)
            try bn.forward(source: y, scale: gamma, shift: beta, mean: mean, variance: variance, destination: normalized)
            let relu = try EltwiseKernel.cached(layout: y.layout, activation: .relu6)
            let activated = try Tensor(layout: y.layout)
            try relu.forward(source: normalized, destination: activated)
            let pool = try GlobalAveragePoolKernel.cached(layout: y.layout)
            try pool.forward(source: activated, destination: try Tensor(layout: pool.destinationLayout))

            let dActivated = try Tensor(layout: y.layout)
            try pool.backward(destinationGradient: dy, sourceGradient: dActivated)
            let dNormalized = try Tensor(layout: y.layout)
            try relu.backward(source: normalized, destinationGradient: dActivated, sourceGradient: dNormalized)
            let dConv = try Tensor(layout: y.layout)
            try bn.backward(source: y, destinationGradient: dNormalized, scale: gamma, shift: beta, mean: mean,
                        variance: variance, sourceGradient: dConv, scaleGradient: try Tensor(zeros: [16]),
                        shiftGradient: try Tensor(zeros: [16]))
            let dw = try Tensor(layout: w.layout), db = try Tensor(zeros: [16])
            try conv.backwardWeights(source: x, destinationGradient: dConv, weightsGradient: dw, biasGradient: db)
            let dx = try Tensor(layout: conv.sourceGradientLayout())
            try conv.backwardData(destinationGradient: dConv, weights: w, sourceGradient: dx)
            return (try dx.toArray(), try dw.toArray())
        }
    }

    func testSecondTrainingStepCreatesNoPrimitive() throws {
        let net = SmallNetwork(weights: try random([16, 8, 3, 3], seed: 1), bias: try random([16], seed: 2),
                               gamma: try random([16], seed: 3), beta: try random([16], seed: 4))
        let x = try random([2, 8, 6, 6], seed: 5), dy = try random([2, 16, 1, 1], seed: 6)
        let before = PrimitiveCache.shared.creations
        let first = try net.step(x, dy)
        let afterFirst = PrimitiveCache.shared.creations
        XCTAssertGreaterThan(afterFirst, before, "the first step creates its primitives")
        let second = try net.step(x, dy)
        XCTAssertEqual(PrimitiveCache.shared.creations, afterFirst, "the second step created primitives")
        XCTAssertEqual(second.dx, first.dx)
        XCTAssertEqual(second.dw, first.dw)
        XCTAssertTrue(first.dw.contains { $0 != 0 } && first.dx.contains { $0 != 0 }, "gradients flow")
    }

    func testKernelsAreSharedPerShape() {
        let spec = ConvolutionSpec(input: [1, 4, 5, 5], outputChannels: 4, kernel: [1, 1], stride: [1, 1],
                                   padding: [0, 0, 0, 0], hasBias: false)
        XCTAssertTrue(try ConvolutionKernel.cached(spec, training: true) === ConvolutionKernel.cached(spec, training: true))
        XCTAssertFalse(try ConvolutionKernel.cached(spec, training: true) === ConvolutionKernel.cached(spec, training: false))
        var other = spec
        other.outputChannels = 8
        XCTAssertFalse(try ConvolutionKernel.cached(spec, training: true) === ConvolutionKernel.cached(other, training: true))
    }

    /// Repeated reorders between the same two layouts reuse one primitive.
    func testReorderPrimitiveIsReused() throws {
        let x = try random([2, 3, 4, 5], seed: 7)
        _ = try x.reordered(to: .nhwc(x.shape)).toArray()
        let created = PrimitiveCache.shared.creations
        for _ in 0..<3 { XCTAssertEqual(try x.reordered(to: .nhwc(x.shape)).toArray(), try x.toArray()) }
        XCTAssertEqual(PrimitiveCache.shared.creations, created)
    }
}
