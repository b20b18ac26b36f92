import CDNNL
import Foundation

/// The weight gradient of a depthwise convolution, computed directly on channel blocks of 8.
///
/// oneDNN 2.6 has a jit kernel for it only for 3x3 on AVX2; EfficientNet-Lite's 5x5 depthwise
/// layers get its gemm (im2col) kernel on plain layouts, about 2 GFLOP/s plus a reorder of
/// the activations each step (BENCHMARKS.md, "Layers vs bare oneDNN"). Here each block of 8
/// channels is one SIMD lane group, read in oneDNN's nChw8c layout, with the blocks shared
/// between the cores.
final class DepthwiseWeightsGradient: @unchecked Sendable {  // unchecked: immutable but for its scratch, which is locked
    let spec: ConvolutionSpec
    private let scratch = ReorderScratch()
    private let gradientLayout: TensorLayout
    /// The scratch slot of the row-major gradient (not an argument number).
    private static let gradientSlot: Int32 = -1

    init(_ spec: ConvolutionSpec) {
        // Made only for specs `applies(to:)` accepts: no input reaches this.
        precondition(spec.groups == spec.input[1] && spec.outputChannels == spec.groups)
        self.spec = spec
        gradientLayout = .rowMajor([spec.groups, 1, 1, spec.kernelSize[0], spec.kernelSize[1]])
    }

    /// Whether to use it: depthwise (multiplier 1), no bias, larger than 3x3.
    static func applies(to spec: ConvolutionSpec) -> Bool {
        spec.groups > 1 && spec.groups == spec.input[1] && spec.outputChannels == spec.groups
            && !spec.hasBias && spec.kernelSize[0] * spec.kernelSize[1] > 9
    }

    /// Overwrites `weightsGradient` (any layout) with dL/dW.
    func compute(source x: Tensor, destinationGradient g: Tensor, weightsGradient: Tensor) throws {
        let blockedX = try blocked(x, shape: spec.input, slot: DNNL_ARG_SRC)
        defer { if blockedX !== x { scratch.giveBack(blockedX, slot: DNNL_ARG_SRC) } }
        let blockedG = try blocked(g, shape: spec.output, slot: DNNL_ARG_DIFF_DST)
        defer { if blockedG !== g { scratch.giveBack(blockedG, slot: DNNL_ARG_DIFF_DST) } }
        let gradient = try scratch.borrow(gradientLayout, slot: Self.gradientSlot)
        defer { scratch.giveBack(gradient, slot: Self.gradientSlot) }
        let (n, c, h, w) = (spec.input[0], spec.input[1], spec.input[2], spec.input[3])
        let (oh, ow) = (spec.output[2], spec.output[3])
        let (kh, kw) = (spec.kernelSize[0], spec.kernelSize[1])
        let (sh, sw) = (spec.stride[0], spec.stride[1])
        let (top, left) = (spec.padding[0], spec.padding[2])
        let blocks = (c + 7) / 8
        // The blocks read shared inputs and write disjoint channels of `out`: no two iterations race.
        nonisolated(unsafe) let xs = UnsafePointer(blockedX.floats.baseAddress!)
        nonisolated(unsafe) let gs = UnsafePointer(blockedG.floats.baseAddress!)
        nonisolated(unsafe) let out = gradient.floats.baseAddress!
        DispatchQueue.concurrentPerform(iterations: blocks) { b in
            for i in 0..<kh {
                for j in 0..<kw {
                    var sum = SIMD8<Float>()
                    // Output columns whose input column (o * sw + j - left) lies inside the image.
                    let first = max(0, (left - j + sw - 1) / sw)
                    let last = min(ow - 1, (w - 1 + left - j) / sw)
                    guard first <= last else { continue }
                    for image in 0..<n {
                        let xBase = ((image * blocks + b) * h) * w * 8
                        let gBase = ((image * blocks + b) * oh) * ow * 8
                        for row in 0..<oh {
                            let inputRow = row * sh + i - top
                            guard inputRow >= 0 && inputRow < h else { continue }
                            let xRow = xs + xBase + inputRow * w * 8
                            let gRow = gs + gBase + row * ow * 8
                            for col in first...last {
                                let xv = UnsafeRawPointer(xRow + (col * sw + j - left) * 8)
                                    .loadUnaligned(as: SIMD8<Float>.self)
                                let gv = UnsafeRawPointer(gRow + col * 8).loadUnaligned(as: SIMD8<Float>.self)
                                sum += xv * gv
                            }
                        }
                    }
                    for lane in 0..<8 where b * 8 + lane < c {
                        out[((b * 8 + lane) * kh + i) * kw + j] = sum[lane]
                    }
                }
            }
        }
        withExtendedLifetime((blockedX, blockedG)) {}
        try DNNL.singleThreaded { try weightsGradient.assign(gradient) }
    }

    /// The tensor in nChw8c, converted into a borrowed buffer when it is not already.
    private func blocked(_ t: Tensor, shape: [Int], slot: Int32) throws -> Tensor {
        let layout = TensorLayout(shape: shape, type: .float32, tag: dnnl_nChw8c)
        if t.layout == layout { return t }
        let buffer = try scratch.borrow(layout, slot: slot)
        try Reorder.run(from: t, to: buffer)
        return buffer
    }
}
