import XCTest
import PetalCore
import PetalTestSupport

/// The int8 convolution (plain, depthwise, with the residual `sum` and clip post-ops) and
/// inner product against a reference computed here on the same integers: s32 accumulation,
/// then scale, round to nearest even and saturate. Results agree within one integer step
/// (oneDNN may round the scaled value in a different order of operations).
final class Int8KernelTests: XCTestCase {
    private var generator = SplitMix64(seed: 7)

    /// A tensor of `type` whose logical (N, C, H, W) or (N, I) element at row-major index i is values[i].
    private func tensor(_ layout: TensorLayout, _ values: [Int]) throws -> Tensor {
        let plain = try Tensor(layout: .rowMajor(layout.shape, layout.dataType))
        let bytes = plain.bytes
        for (i, v) in values.enumerated() {
            bytes[i] = layout.dataType == .int8 ? UInt8(bitPattern: Int8(v)) : UInt8(v)
        }
        return try plain.reordered(to: layout)
    }

    private func integers(_ count: Int, _ range: ClosedRange<Int>) -> [Int] {
        (0..<count).map { _ in range.lowerBound + Int(generator.next() % UInt64(range.count)) }
    }

    /// Logical row-major values of an int8, uint8 or float tensor.
    private func values(_ t: Tensor) throws -> [Float] {
        if t.dataType == .float32 { return try t.toArray() }
        let plain = try t.reordered(to: .rowMajor(t.shape, t.dataType))
        return withExtendedLifetime(plain) {
            plain.bytes.prefix(plain.count).map { t.dataType == .int8 ? Float(Int8(bitPattern: $0)) : Float($0) }
        }
    }

    private func quantized(_ x: Float, _ type: DataType) -> Float {
        let r = x.rounded(.toNearestOrEven)
        switch type {
        case .uint8: return min(max(r, 0), 255)
        case .int8: return min(max(r, -128), 127)
        default: return x
        }
    }

    /// Direct convolution over integers, then the int8 output stage.
    private func reference(_ spec: Int8ConvolutionSpec, source: [Int], weights: [Int], bias: [Float],
                           residual: [Float]?) -> [Float] {
        let c = spec.convolution
        let (n, ci, h, w) = (c.input[0], c.input[1], c.input[2], c.input[3])
        let out = c.output
        let (co, oh, ow) = (out[1], out[2], out[3])
        let g = c.groups, ciG = ci / g, coG = co / g
        let (kh, kw) = (c.kernelSize[0], c.kernelSize[1])
        var result = [Float](repeating: 0, count: out.reduce(1, *))
        for b in 0..<n { for o in 0..<co { for y in 0..<oh { for x in 0..<ow {
            let group = o / coG
            var acc = 0
            for i in 0..<ciG { for dy in 0..<kh { for dx in 0..<kw {
                let iy = y * c.stride[0] - c.padding[0] + dy, ix = x * c.stride[1] - c.padding[2] + dx
                guard iy >= 0, iy < h, ix >= 0, ix < w else { continue }
                let channel = group * ciG + i
                acc += source[((b * ci + channel) * h + iy) * w + ix] * weights[((o * ciG + i) * kh + dy) * kw + dx]
            } } }
            let index = ((b * co + o) * oh + y) * ow + x
            var v = spec.outputScales[spec.outputScales.count == 1 ? 0 : o] * (Float(acc) + bias[o])
            if let s = spec.sumScale, let residual { v += s * residual[index] }
            if let clip = spec.clip { v = min(max(v, clip.lower), clip.upper) }
            result[index] = quantized(v, spec.destination)
        } } } }
        return result
    }

    private func check(_ spec: Int8ConvolutionSpec, file: StaticString = #filePath, line: UInt = #line) throws {
        let c = spec.convolution
        let kernel = try Int8ConvolutionKernel.cached(spec)
        let sourceRange = spec.source == .uint8 ? 0...255 : -128...127
        let source = integers(c.input.reduce(1, *), sourceRange)
        let weights = integers(c.weightShape.reduce(1, *), -127...127)
        let bias = (0..<c.outputChannels).map { _ in Float(generator.nextUnitFloat() * 2000 - 1000) }
        let destination = try Tensor(layout: kernel.destinationLayout)
        var residual: [Float]?
        if spec.sumScale != nil {
            let r = integers(c.output.reduce(1, *), -128...127)
            residual = r.map(Float.init)
            try destination.assign(tensor(.rowMajor(c.output, spec.destination), r))
        }
        try kernel.forward(source: tensor(.nhwc(c.input, spec.source), source),
                           weights: kernel.prepareWeights(tensor(.rowMajor(c.weightShape, .int8), weights)),
                           bias: Tensor(shape: [c.outputChannels], values: bias), destination: destination)
        let got = try values(destination)
        let expected = reference(spec, source: source, weights: weights, bias: bias, residual: residual)
        XCTAssertEqual(got.count, expected.count, file: file, line: line)
        let tolerance: Float = spec.destination == .float32 ? 1e-3 : 1
        let worst = zip(got, expected).map { abs($0 - $1) / (spec.destination == .float32 ? max(1, abs($1)) : 1) }.max() ?? 0
        XCTAssertLessThanOrEqual(worst, tolerance, "\(spec.source) -> \(spec.destination) \(c): \(kernel.implementation)",
                                 file: file, line: line)
        // Not all zeros or all saturated: the scales keep the test meaningful.
        XCTAssertGreaterThan(Set(got).count, 10, "\(kernel.implementation)", file: file, line: line)
    }

    private func conv(_ input: [Int], _ filters: Int, kernel: Int, stride: Int = 1, groups: Int = 1) -> ConvolutionSpec {
        let half = kernel / 2
        let pad = stride == 2 ? [half - 1, half, half - 1, half] : [half, half, half, half]
        return ConvolutionSpec(input: input, outputChannels: filters, kernel: [kernel, kernel], stride: [stride, stride],
                               padding: pad, groups: groups, hasBias: true)
    }

    private func scales(_ count: Int, _ base: Float) -> [Float] {
        (0..<count).map { _ in base * (0.5 + generator.nextUnitFloat()) }
    }

    func testPointwiseConvolutionU8ToU8WithReLU6Clip() throws {
        let c = conv([2, 24, 5, 5], 40, kernel: 1)
        try check(Int8ConvolutionSpec(convolution: c, source: .uint8, destination: .uint8,
                                      outputScales: scales(40, 2e-4), clip: Int8Clip(lower: 0, upper: 200)))
    }

    func testSignedSourceStemConvolutionStride2() throws {
        let c = conv([1, 3, 9, 9], 16, kernel: 3, stride: 2)
        try check(Int8ConvolutionSpec(convolution: c, source: .int8, destination: .uint8, outputScales: scales(16, 4e-3)))
    }

    func testDepthwiseConvolutionStride1And2() throws {
        let s1 = conv([2, 32, 6, 6], 32, kernel: 3, groups: 32)
        try check(Int8ConvolutionSpec(convolution: s1, source: .uint8, destination: .uint8, outputScales: scales(32, 2e-3),
                                      clip: Int8Clip(lower: 0, upper: 255)))
        let s2 = conv([1, 48, 7, 7], 48, kernel: 5, stride: 2, groups: 48)
        try check(Int8ConvolutionSpec(convolution: s2, source: .uint8, destination: .int8, outputScales: scales(48, 1e-3)))
    }

    func testProjectionWithResidualSum() throws {
        let c = conv([2, 64, 4, 4], 16, kernel: 1)
        try check(Int8ConvolutionSpec(convolution: c, source: .uint8, destination: .int8, outputScales: scales(16, 1e-4),
                                      sumScale: 0.7))
    }

    func testFloatDestination() throws {
        let c = conv([1, 16, 4, 4], 24, kernel: 1)
        try check(Int8ConvolutionSpec(convolution: c, source: .uint8, destination: .float32, outputScales: scales(24, 1e-3)))
    }

    func testInnerProductU8AndS8Sources() throws {
        for source in [DataType.uint8, .int8] {
            let (n, i, o) = (3, 40, 7)
            let outputScales = scales(o, 1e-3)
            let kernel = try Int8InnerProductKernel.cached(batch: n, inputs: i, outputs: o, source: source,
                                                           outputScales: outputScales, relu: source == .uint8)
            let x = integers(n * i, source == .uint8 ? 0...255 : -128...127)
            let w = integers(o * i, -127...127)
            let bias = (0..<o).map { _ in Float(generator.nextUnitFloat() * 100 - 50) }
            let y = try Tensor(zeros: [n, o])
            try kernel.forward(source: tensor(.rowMajor([n, i], source), x),
                               weights: kernel.prepareWeights(tensor(.rowMajor([o, i], .int8), w)),
                               bias: Tensor(shape: [o], values: bias), destination: y)
            let got = try y.toArray()
            for b in 0..<n {
                for k in 0..<o {
                    let acc = (0..<i).reduce(0) { $0 + x[b * i + $1] * w[k * i + $1] }
                    var v = outputScales[k] * (Float(acc) + bias[k])
                    if source == .uint8 { v = max(v, 0) }
                    XCTAssertEqual(got[b * o + k], v, accuracy: 1e-3 * max(1, abs(v)), "\(source) \(kernel.implementation)")
                }
            }
        }
    }

    func testQuantizingReorderRoundsAndSaturates() throws {
        let x = try Tensor(shape: [1, 2, 1, 3], values: [-3, -0.26, 0.25, 0.74, 1.26, 150])
        let u8 = try Tensor(layout: .nhwc([1, 2, 1, 3], .uint8))
        try Int8Reorder.run(from: x, to: u8, multiplier: 2)
        XCTAssertEqual(try values(u8), [0, 0, 0, 1, 3, 255])
        let s8 = try Tensor(layout: .nhwc([1, 2, 1, 3], .int8))
        try Int8Reorder.run(from: x, to: s8, multiplier: 2)
        XCTAssertEqual(try values(s8), [-6, -1, 0, 1, 3, 127])
    }
}
