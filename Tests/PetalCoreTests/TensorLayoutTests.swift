import XCTest
import PetalCore

/// Tensors across layouts: plain, channels-last and oneDNN's blocked layouts, converted by
/// cached reorders.
final class TensorLayoutTests: XCTestCase {
    private func counting(_ shape: [Int]) throws -> Tensor {
        try Tensor(shape: shape, values: (0..<shape.reduce(1, *)).map { Float($0) * 0.5 - 7 })
    }

    /// The layout a training convolution picks for its source: blocked on AVX2/AVX-512
    /// machines (nChw8c or nChw16c).
    private func convolutionSourceLayout(_ shape: [Int]) throws -> TensorLayout {
        let spec = ConvolutionSpec(input: shape, outputChannels: 16, kernel: [3, 3], stride: [1, 1],
                                   padding: [1, 1, 1, 1], hasBias: false)
        return try ConvolutionKernel.cached(spec, training: true).sourceLayout
    }

    func testRowMajorLayoutDescribesPlainStorage() {
        let layout = TensorLayout.rowMajor([2, 3, 4, 5])
        XCTAssertEqual(layout.shape, [2, 3, 4, 5])
        XCTAssertTrue(layout.isRowMajor)
        XCTAssertTrue(layout.isPlain)
        XCTAssertEqual(layout.byteCount, 2 * 3 * 4 * 5 * 4)
        XCTAssertEqual(layout.dataType, .float32)
        XCTAssertNotEqual(layout, TensorLayout.rowMajor([2, 3, 5, 4]))
    }

    /// NHWC keeps the logical (N, C, H, W) shape; element (n, c, h, w) sits at ((n·H + h)·W + w)·C + c.
    func testChannelsLastPlacesChannelsInnermost() throws {
        let shape = [2, 3, 4, 5]
        let x = try counting(shape)
        let nhwc = try x.reordered(to: .nhwc(shape))
        XCTAssertFalse(nhwc.layout.isRowMajor)
        XCTAssertTrue(nhwc.layout.isPlain)
        let plain = try x.toArray(), physical = Array(nhwc.floats)
        for n in 0..<2 { for c in 0..<3 { for h in 0..<4 { for w in 0..<5 {
            XCTAssertEqual(physical[((n * 4 + h) * 5 + w) * 3 + c], plain[((n * 3 + c) * 4 + h) * 5 + w])
        } } } }
        XCTAssertEqual(try nhwc.toArray(), plain)
    }

    /// Row-major -> blocked -> row-major returns the same values; the blocked copy stores
    /// channel blocks innermost and pads the channels up to a whole block with zeros.
    func testBlockedLayoutRoundTrip() throws {
        let (channels, height, width) = (20, 3, 3)   // 20 channels: 3 blocks of 8 or 2 of 16
        let shape = [2, channels, height, width]
        let blocked = try convolutionSourceLayout(shape)
        guard !blocked.isPlain else { throw XCTSkip("this CPU's convolution takes a plain layout (\(blocked))") }
        XCTAssertEqual(blocked.shape, shape)
        let x = try counting(shape)
        let y = try x.reordered(to: blocked)
        XCTAssertEqual(y.layout, blocked)
        let padded = blocked.byteCount / 4 / (2 * height * width)
        let block = padded == 24 ? 8 : 16
        XCTAssertTrue(padded == 24 || padded == 32, "unexpected blocked size \(blocked.byteCount) bytes")
        let plain = try x.toArray(), physical = Array(y.floats)
        for n in 0..<2 { for c in 0..<padded { for h in 0..<height { for w in 0..<width {
            let offset = (((n * (padded / block) + c / block) * height + h) * width + w) * block + c % block
            let expected = c < channels ? plain[((n * channels + c) * height + h) * width + w] : 0
            XCTAssertEqual(physical[offset], expected, "n\(n) c\(c) h\(h) w\(w)")
        } } } }
        XCTAssertEqual(try y.toArray(), plain)
        XCTAssertEqual(try y.rowMajor().layout, .rowMajor(shape))
        XCTAssertTrue(try x.reordered(to: x.layout) === x, "reordering to the same layout copies nothing")
    }

    func testAssignConvertsLayoutsAndReshapeSharesStorage() throws {
        let shape = [1, 8, 2, 2]
        let source = try counting(shape)
        let target = try Tensor(layout: convolutionSourceLayout(shape))
        try target.assign(source)
        XCTAssertEqual(try target.toArray(), try source.toArray())
        let flat = try source.reshaped([8, 4])
        flat.floats[5] = 42
        XCTAssertEqual(try source.toArray()[5], 42)
        XCTAssertEqual(flat.shape, [8, 4])
    }

    func testParameterAdoptsALayoutAndKeepsItsValues() throws {
        let shape = [1, 16, 4, 4]
        let p = Parameter(name: "p", value: try counting(shape))
        let before = try p.value.toArray(), version = p.version
        let layout = try convolutionSourceLayout(shape)
        try p.adopt(layout: layout)
        XCTAssertEqual(p.layout, layout)
        XCTAssertEqual(try p.value.toArray(), before)
        XCTAssertEqual(try p.gradientBuffer().layout, layout, "the gradient shares the value's layout")
        XCTAssertEqual(p.version, layout == .rowMajor(shape) ? version : version + 1)
        try p.load(try counting(shape).reshaped(shape))
        XCTAssertEqual(p.layout, layout, "loading keeps the adopted layout")
        XCTAssertEqual(try p.value.toArray(), before)
    }
}
