import XCTest
import PetalCore
import PetalTestSupport

/// Primitives are created once per shape and layout: a training step after the first
/// creates none (creation costs milliseconds; a MobileNetV2 step runs ~150 primitives).
final class PrimitiveCacheTests: XCTestCase {
    private func random(_ shape: [Int], seed: UInt64) -> Tensor {
        var g = SplitMix64(seed: seed)
        return g.tensor(shape) { $0 * 2 - 1 }
    }

    /// A conv -> batch norm -> ReLU6 -> global average pool network on the typed kernels,
    /// forward and backward with input and gradients in row-major layout (so reorders run
    /// too). Returns the input gradient and weight gradient, row-major.
    private struct SmallNetwork {
        let spec = ConvolutionSpec(input: [2, 8, 6, 6], outputChannels: 16, kernel: [3, 3], stride: [2, 2],
                                   padding: [0, 1, 0, 1], hasBias: true)
        let weights: Tensor, bias: Tensor, gamma: Tensor, beta: Tensor

        func step(_ x: Tensor, _ dy: Tensor) -> (dx: [Float], dw: [Float]) {
            let conv = ConvolutionKernel.cached(spec, training: true)
            let w = weights.reordered(to: conv.weightsLayout)
            let y = Tensor(layout: conv.destinationLayout)
            conv.forward(source: x, weights: w, bias: bias, destination: y)
            let bn = BatchNormKernel.cached(layout: y.layout, epsilon: 1e-3, statistics: .batch)
            let mean = Tensor(zeros: [16]), variance = Tensor(zeros: [16])
            let normalized = Tensor(layout: y.layout)
            bn.forward(source: y, scale: gamma, shift: beta, mean: mean, variance: variance, destination: normalized)
            let relu = EltwiseKernel.cached(layout: y.layout, activation: .relu6)
            let activated = Tensor(layout: y.layout)
            relu.forward(source: normalized, destination: activated)
            let pool = GlobalAveragePoolKernel.cached(layout: y.layout)
            pool.forward(source: activated, destination: Tensor(layout: pool.destinationLayout))

            let dActivated = Tensor(layout: y.layout)
            pool.backward(destinationGradient: dy, sourceGradient: dActivated)
            let dNormalized = Tensor(layout: y.layout)
            relu.backward(source: normalized, destinationGradient: dActivated, sourceGradient: dNormalized)
            let dConv = Tensor(layout: y.layout)
            bn.backward(source: y, destinationGradient: dNormalized, scale: gamma, shift: beta, mean: mean,
                        variance: variance, sourceGradient: dConv, scaleGradient: Tensor(zeros: [16]),
                        shiftGradient: Tensor(zeros: [16]))
            let dw = Tensor(layout: w.layout), db = Tensor(zeros: [16])
            conv.backwardWeights(source: x, destinationGradient: dConv, weightsGradient: dw, biasGradient: db)
            let dx = Tensor(layout: conv.sourceGradientLayout)
            conv.backwardData(destinationGradient: dConv, weights: w, sourceGradient: dx)
            return (dx.toArray(), dw.toArray())
        }
    }

    func testSecondTrainingStepCreatesNoPrimitive() {
        let net = SmallNetwork(weights: random([16, 8, 3, 3], seed: 1), bias: random([16], seed: 2),
                               gamma: random([16], seed: 3), beta: random([16], seed: 4))
        let x = random([2, 8, 6, 6], seed: 5), dy = random([2, 16, 1, 1], seed: 6)
        let before = PrimitiveCache.shared.creations
        let first = net.step(x, dy)
        let afterFirst = PrimitiveCache.shared.creations
        XCTAssertGreaterThan(afterFirst, before, "the first step creates its primitives")
        let second = net.step(x, dy)
        XCTAssertEqual(PrimitiveCache.shared.creations, afterFirst, "the second step created primitives")
        XCTAssertEqual(second.dx, first.dx)
        XCTAssertEqual(second.dw, first.dw)
        XCTAssertTrue(first.dw.contains { $0 != 0 } && first.dx.contains { $0 != 0 }, "gradients flow")
    }

    func testKernelsAreSharedPerShape() {
        let spec = ConvolutionSpec(input: [1, 4, 5, 5], outputChannels: 4, kernel: [1, 1], stride: [1, 1],
                                   padding: [0, 0, 0, 0], hasBias: false)
        XCTAssertTrue(ConvolutionKernel.cached(spec, training: true) === ConvolutionKernel.cached(spec, training: true))
        XCTAssertFalse(ConvolutionKernel.cached(spec, training: true) === ConvolutionKernel.cached(spec, training: false))
        var other = spec
        other.outputChannels = 8
        XCTAssertFalse(ConvolutionKernel.cached(spec, training: true) === ConvolutionKernel.cached(other, training: true))
    }

    /// Repeated reorders between the same two layouts reuse one primitive.
    func testReorderPrimitiveIsReused() {
        let x = random([2, 3, 4, 5], seed: 7)
        _ = x.reordered(to: .nhwc(x.shape)).toArray()
        let created = PrimitiveCache.shared.creations
        for _ in 0..<3 { XCTAssertEqual(x.reordered(to: .nhwc(x.shape)).toArray(), x.toArray()) }
        XCTAssertEqual(PrimitiveCache.shared.creations, created)
    }
}
