import XCTest
import PetalCore
import PetalTestSupport

/// The convolution kernels pick oneDNN's optimised implementations for MobileNetV2's layer
/// (and EfficientNet-Lite's 5x5 depthwise) kinds in all three directions (a "ref" implementation is ~100x slower).
final class ConvolutionKernelTests: XCTestCase {
    private func implementations(_ input: [Int], _ filters: Int, kernel: Int, stride: Int, groups: Int = 1)
        throws -> (forward: String, backwardData: String, backwardWeights: String) {
        let half = kernel / 2
        let pad = stride == 2 ? [half - 1, half, half - 1, half] : [half, half, half, half]
        let spec = ConvolutionSpec(input: input, outputChannels: filters, kernel: [kernel, kernel],
                                   stride: [stride, stride], padding: pad, groups: groups, hasBias: false)
        return try ConvolutionKernel.cached(spec, training: true).implementations()
    }

    func testMobileNetV2LayersUseOptimisedKernels() throws {
        let stem = try implementations([2, 3, 32, 32], 32, kernel: 3, stride: 2)
        guard !stem.forward.hasPrefix("ref") else { throw XCTSkip("no optimised oneDNN kernels on this CPU") }
        let cases = [
            ("stem 3x3 s2 3->32", stem),
            ("1x1 expand 16->96", try implementations([2, 16, 8, 8], 96, kernel: 1, stride: 1)),
            ("1x1 project 96->24", try implementations([2, 96, 8, 8], 24, kernel: 1, stride: 1)),
            ("depthwise 3x3 s1", try implementations([2, 32, 8, 8], 32, kernel: 3, stride: 1, groups: 32)),
            ("depthwise 3x3 s2", try implementations([2, 96, 8, 8], 96, kernel: 3, stride: 2, groups: 96)),
            ("depthwise 5x5 s1 (EfficientNet-Lite)", try implementations([2, 40, 8, 8], 40, kernel: 5, stride: 1, groups: 40)),
        ]
        for (name, chosen) in cases {
            for (direction, implementation) in [("forward", chosen.forward), ("backward data", chosen.backwardData),
                                                ("backward weights", chosen.backwardWeights)] {
                XCTAssertFalse(implementation.hasPrefix("ref"), "\(name) \(direction): \(implementation)")
            }
        }
    }

    /// Backward by data may read the weights in another layout than forward (1x1 on AVX2);
    /// either way it computes the same input gradient as a plain-layout reference.
    func testBackwardDataWeightsLayoutGivesTheSameGradient() throws {
        var g = SplitMix64(seed: 11)
        func random(_ shape: [Int]) throws -> Tensor {
            try g.tensor(shape) { $0 - 0.5 }
        }
        let spec = ConvolutionSpec(input: [2, 16, 4, 4], outputChannels: 24, kernel: [1, 1], stride: [1, 1],
                                   padding: [0, 0, 0, 0], hasBias: false)
        let kernel = try ConvolutionKernel.cached(spec, training: true)
        let w = try random(spec.weightShape), dy = try random(spec.output)
        let dx = try Tensor(layout: kernel.sourceGradientLayout())
        try kernel.backwardData(destinationGradient: dy, weights: w.reordered(to: kernel.backwardDataWeightsLayout()),
                            sourceGradient: dx)
        // dx[n, i, h, w] = sum over o of dy[n, o, h, w] * w[o, i]
        let wv = try w.toArray(), dyv = try dy.toArray(), got = try dx.toArray()
        for n in 0..<2 { for i in 0..<16 { for p in 0..<16 {
            var sum: Float = 0
            for o in 0..<24 { sum += dyv[(n * 24 + o) * 16 + p] * wv[o * 16 + i] }
            XCTAssertEqual(got[(n * 16 + i) * 16 + p], sum, accuracy: 1e-5)
        } } }
    }
}
