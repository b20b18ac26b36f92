import Foundation
import PetalCore
import PetalTestSupport
import XCTest
@testable import PetalData

final class DecodingTests: XCTestCase {
    var dir: URL!
    override func setUp() { dir = Fixtures.temporaryDirectory("petal-data") }
    override func tearDown() { try? FileManager.default.removeItem(at: dir) }

    func assertColor(_ img: RGBImage, _ x: Int, _ y: Int, _ expected: (Int, Int, Int), tolerance: Int = 12,
                     file: StaticString = #filePath, line: UInt = #line) {
        let p = img[x, y]
        let ok = abs(Int(p.r) - expected.0) <= tolerance && abs(Int(p.g) - expected.1) <= tolerance
            && abs(Int(p.b) - expected.2) <= tolerance
        XCTAssertTrue(ok, "pixel (\(x), \(y)) is \(p), expected \(expected)", file: file, line: line)
    }

    func testJPEGRoundTripKeepsPattern() throws {
        let img = TestImages.quadrants(width: 64, height: 48)
        let url = try JPEGEncoder.encode(img, quality: 98).write(into: dir, "q.jpg")
        let out = try ImageDecoder.decode(contentsOf: url)
        XCTAssertEqual(out.width, 64); XCTAssertEqual(out.height, 48)
        assertColor(out, 5, 5, (0, 220, 0))
        assertColor(out, 5, 40, (220, 0, 0))
        assertColor(out, 50, 20, (0, 0, 220))
        let info = try ImageDecoder.info(contentsOf: url)
        XCTAssertEqual(info, ImageDecoder.Info(width: 64, height: 48, format: .jpeg, orientation: 1))
    }

    /// Orientation 6 means "turn 90 degrees clockwise to display": the stored left column
    /// (green top, red bottom) becomes the top row (red left, green right).
    func testExifOrientationIsApplied() throws {
        let stored = try JPEGEncoder.encode(TestImages.quadrants(width: 64, height: 32), quality: 98)
        for bigEndian in [false, true] {
            let url = try TestImages.withExif(stored, orientation: 6, bigEndian: bigEndian).write(into: dir, "o6-\(bigEndian).jpg")
            XCTAssertEqual(try ImageDecoder.info(contentsOf: url).orientation, 6)
            let out = try ImageDecoder.decode(contentsOf: url)
            XCTAssertEqual(out.width, 32); XCTAssertEqual(out.height, 64)
            assertColor(out, 4, 4, (220, 0, 0))     // stored bottom-left (red) is now top-left
            assertColor(out, 28, 4, (0, 220, 0))    // stored top-left (green) is now top-right
            assertColor(out, 16, 60, (0, 0, 220))   // stored right half (blue) is now the bottom
        }
        // Orientation 8 (90 counter-clockwise): the stored right half comes on top.
        let url8 = try TestImages.withExif(stored, orientation: 8).write(into: dir, "o8.jpg")
        let out8 = try ImageDecoder.decode(contentsOf: url8)
        XCTAssertEqual(out8.width, 32)
        assertColor(out8, 16, 4, (0, 0, 220))
        assertColor(out8, 4, 60, (0, 220, 0))       // stored top-left ends bottom-left
        // Orientation 3 (180): green quarter moves to the bottom right.
        let url3 = try TestImages.withExif(stored, orientation: 3).write(into: dir, "o3.jpg")
        let out3 = try ImageDecoder.decode(contentsOf: url3)
        assertColor(out3, 60, 28, (0, 220, 0))
        assertColor(out3, 4, 16, (0, 0, 220))
        // The resizing path turns the image the same way (the target is the upright size).
        let small = try ImageDecoder.decode(contentsOf: URL(fileURLWithPath: dir.appendingPathComponent("o6-false.jpg").path),
                                            width: 16, height: 32)
        XCTAssertEqual(small.width, 16); XCTAssertEqual(small.height, 32)
        assertColor(small, 2, 2, (220, 0, 0), tolerance: 20)
        assertColor(small, 14, 2, (0, 220, 0), tolerance: 20)
        assertColor(small, 8, 30, (0, 0, 220), tolerance: 20)
    }

    func testAllOrientationsMatchTheirDefinition() {
        // 3x2 image with distinct pixels; check each orientation against the EXIF definitions.
        var img = RGBImage(width: 3, height: 2)
        for i in 0..<6 { img.pixels[i * 3] = UInt8(i) }
        func r(_ o: RGBImage) -> [[Int]] { (0..<o.height).map { y in (0..<o.width).map { Int(o[$0, y].r) } } }
        XCTAssertEqual(r(img.oriented(1)), [[0, 1, 2], [3, 4, 5]])
        XCTAssertEqual(r(img.oriented(2)), [[2, 1, 0], [5, 4, 3]])
        XCTAssertEqual(r(img.oriented(3)), [[5, 4, 3], [2, 1, 0]])
        XCTAssertEqual(r(img.oriented(4)), [[3, 4, 5], [0, 1, 2]])
        XCTAssertEqual(r(img.oriented(5)), [[0, 3], [1, 4], [2, 5]])
        XCTAssertEqual(r(img.oriented(6)), [[3, 0], [4, 1], [5, 2]])
        XCTAssertEqual(r(img.oriented(7)), [[5, 2], [4, 1], [3, 0]])
        XCTAssertEqual(r(img.oriented(8)), [[2, 5], [1, 4], [0, 3]])
    }

    func testResizeIsAntialiasedAndKeepsConstants() {
        // A one-pixel checkerboard shrunk 4x averages to mid-grey instead of aliasing.
        var board = RGBImage(width: 64, height: 64)
        for y in 0..<64 { for x in 0..<64 where (x + y) % 2 == 0 {
            let i = (y * 64 + x) * 3; board.pixels[i] = 255; board.pixels[i + 1] = 255; board.pixels[i + 2] = 255 } }
        let small = board.resized(width: 16, height: 16)
        for v in small.pixels { XCTAssertEqual(Int(v), 128, accuracy: 3) }
        let solid = TestImages.solid(width: 227, height: 227, 10, 100, 250).resized(width: 224, height: 224)
        XCTAssertEqual(Set(solid.pixels.enumerated().map { $0.offset % 3 == 0 ? Int($0.element) - 10 : $0.offset % 3 == 1 ? Int($0.element) - 100 : Int($0.element) - 250 }), [0])
        // A horizontal ramp stays a ramp: value at output x matches the input at the same relative place.
        var ramp = RGBImage(width: 227, height: 4)
        for y in 0..<4 { for x in 0..<227 { ramp.pixels[(y * 227 + x) * 3] = UInt8(x) } }
        let r = ramp.resized(width: 224, height: 4)
        for x in 1..<223 {
            let centre = (Double(x) + 0.5) * 227 / 224 - 0.5
            XCTAssertEqual(Double(r[x, 2].r), centre, accuracy: 1.0)
        }
        // Upscaling keeps the pattern at the right place.
        let up = TestImages.quadrants(width: 8, height: 8).resized(width: 32, height: 32)
        XCTAssertEqual(up[2, 2].g, 220); XCTAssertEqual(up[2, 30].r, 220); XCTAssertEqual(up[30, 30].b, 220)
    }

    func testLargeJPEGUsesDCTScalingAndMatchesFullDecode() throws {
        let big = TestImages.quadrants(width: 960, height: 720)
        let url = try JPEGEncoder.encode(big, quality: 95).write(into: dir, "big.jpg")
        XCTAssertEqual(JPEGCodec.scalingFactor(width: 960, height: 720, minWidth: 224, minHeight: 224).num, 3)  // 3/8 -> 360x270
        XCTAssertEqual(JPEGCodec.scalingFactor(width: 300, height: 300, minWidth: 224, minHeight: 224).num, 1)
        let fast = try ImageDecoder.decode(contentsOf: url, width: 224, height: 224)
        let full = try ImageDecoder.decode(contentsOf: url).resized(width: 224, height: 224)
        var worst = 0
        for i in 0..<fast.pixels.count { worst = max(worst, abs(Int(fast.pixels[i]) - Int(full.pixels[i]))) }
        // Only the colour edges differ slightly.
        let mean = zip(fast.pixels, full.pixels).map { abs(Int($0) - Int($1)) }.reduce(0, +) / fast.pixels.count
        XCTAssertLessThanOrEqual(mean, 2)
        assertColor(fast, 20, 20, (0, 220, 0))
    }

    func testGrayscaleJPEGBecomesRGB() throws {
        // A grayscale JPEG made by compressing with TJSAMP_GRAY is not in the public encoder;
        // a PNG of colour type 0 and a JPEG from a grey RGB image are both checked.
        let grey = TestImages.solid(width: 16, height: 16, 90, 90, 90)
        let data = try grayJPEG(grey)
        let url = try data.write(into: dir, "grey.jpg")
        let out = try ImageDecoder.decode(contentsOf: url)
        XCTAssertEqual(out.width, 16)
        for i in stride(from: 0, to: out.pixels.count, by: 3) {
            XCTAssertEqual(out.pixels[i], out.pixels[i + 1]); XCTAssertEqual(out.pixels[i], out.pixels[i + 2])
            XCTAssertEqual(Int(out.pixels[i]), 90, accuracy: 2)
        }
        let png = TestImages.png(width: 2, height: 1, bitDepth: 8, colorType: 0, rows: [[30, 200]])
        let pout = try ImageDecoder.decode(contentsOf: try png.write(into: dir, "grey.png"))
        XCTAssertEqual(pout.pixels, [30, 30, 30, 200, 200, 200])
    }

    func testPNGWithAlphaIsCompositedOnWhite() throws {
        let rgba: [UInt8] = [255, 0, 0, 255,   255, 0, 0, 0,   0, 0, 255, 128,   0, 0, 0, 255]
        let url = try PNGEncoder.encode(rgba: rgba, width: 2, height: 2).write(into: dir, "alpha.png")
        let out = try ImageDecoder.decode(contentsOf: url)
        XCTAssertEqual(Array(out.pixels[0..<3]), [255, 0, 0])        // opaque red stays
        XCTAssertEqual(Array(out.pixels[3..<6]), [255, 255, 255])    // transparent becomes white
        XCTAssertEqual(Int(out.pixels[6]), 127, accuracy: 2)         // half blue over white
        XCTAssertEqual(Int(out.pixels[8]), 255, accuracy: 1)
        XCTAssertEqual(Array(out.pixels[9..<12]), [0, 0, 0])
    }

    func testSixteenBitAndPalettePNG() throws {
        // 16-bit RGB: values reduce to their high byte.
        let row: [UInt8] = [0xAB, 0xCD, 0x12, 0x00, 0xFF, 0xFF,   0x00, 0x10, 0x80, 0x7F, 0x40, 0x01]
        let url = try TestImages.png(width: 2, height: 1, bitDepth: 16, colorType: 2, rows: [row]).write(into: dir, "deep.png")
        let out = try ImageDecoder.decode(contentsOf: url)
        let expected: [Int] = [0xAB, 0x12, 0xFF, 0x00, 0x80, 0x40]
        for (v, e) in zip(out.pixels, expected) { XCTAssertEqual(Int(v), e, accuracy: 1) }
        // Palette: indices 1, 0 into (10,20,30), (200,100,50).
        let pal = TestImages.png(width: 2, height: 1, bitDepth: 8, colorType: 3, rows: [[1, 0]], palette: [10, 20, 30, 200, 100, 50])
        XCTAssertEqual(try ImageDecoder.decode(contentsOf: try pal.write(into: dir, "pal.png")).pixels, [200, 100, 50, 10, 20, 30])
    }

    func testCMYKJPEGBecomesRGB() throws {
        let data = try cmykJPEG()
        let out = try ImageDecoder.decode(contentsOf: try data.write(into: dir, "cmyk.jpg"))
        assertColor(out, 4, 4, (255, 0, 0), tolerance: 16)
        assertColor(out, 12, 4, (255, 255, 255), tolerance: 16)
    }

    func testBadFilesGiveClearErrors() throws {
        let good = try JPEGEncoder.encode(TestImages.quadrants(width: 64, height: 64), quality: 90)
        let truncated = try good.prefix(good.count / 2).write(into: dir, "cut.jpg")
        let detailed = try JPEGEncoder.encode(TestImages.gradient(width: 200, height: 200, seed: 3), quality: 95)
        let truncatedScan = try detailed.prefix(detailed.count * 7 / 10).write(into: dir, "cut-scan.jpg")
        let empty = try Data().write(into: dir, "empty.jpg")
        let text = try Data("hello, not an image\n".utf8).write(into: dir, "notes.jpg")
        let cutPNG = try PNGEncoder.encode(TestImages.gradient(width: 32, height: 32, seed: 1))
        let truncatedPNG = try cutPNG.prefix(cutPNG.count - 20).write(into: dir, "cut.png")
        let cases: [(URL, String)] = [(truncated, "truncated"), (truncatedScan, "truncated JPEG"), (empty, "empty file"), (text, "not a JPEG or PNG"),
                                      (truncatedPNG, "PNG"), (dir.appendingPathComponent("missing.jpg"), "cannot read")]
        for (url, words) in cases {
            XCTAssertThrowsError(try ImageDecoder.decode(contentsOf: url, width: 32, height: 32)) { error in
                let message = "\(error)"
                XCTAssertTrue(message.contains(url.path), "\(message) does not name the file")
                XCTAssertTrue(message.contains(words), "\(message) does not say '\(words)'")
            }
        }
    }

    func testHugeImagesAreRefusedFromTheHeader() throws {
        // A JPEG whose SOF says 20000x20000 (400 megapixels).
        var jpeg = [UInt8](try JPEGEncoder.encode(TestImages.solid(width: 16, height: 16, 1, 2, 3)))
        let sof = (0..<(jpeg.count - 1)).first { jpeg[$0] == 0xFF && jpeg[$0 + 1] == 0xC0 }!
        jpeg[sof + 5] = 0x4E; jpeg[sof + 6] = 0x20; jpeg[sof + 7] = 0x4E; jpeg[sof + 8] = 0x20
        let url = try Data(jpeg).write(into: dir, "huge.jpg")
        XCTAssertThrowsError(try ImageDecoder.decode(contentsOf: url)) { error in
            guard case let DataError.tooLarge(path, w, h, _) = error else { return XCTFail("\(error)") }
            XCTAssertEqual(path, url.path); XCTAssertEqual(w, 20000); XCTAssertEqual(h, 20000)
        }
        let png = TestImages.png(width: 12000, height: 9000, bitDepth: 8, colorType: 2, rows: [[0, 0, 0]])
        XCTAssertThrowsError(try ImageDecoder.decode(contentsOf: try png.write(into: dir, "huge.png"))) { error in
            guard case DataError.tooLarge = error else { return XCTFail("\(error)") }
        }
    }

    func testUnicodeAndSpacesInNamesAndTensorAPI() throws {
        let url = try PNGEncoder.encode(TestImages.solid(width: 10, height: 6, 255, 0, 51)).write(into: dir, "fleurs d’été/Blüte ñ 1.PNG")
        let t = try ImageDecoder.tensor(contentsOf: url, width: 5, height: 3, normalization: .minusOneToOne)
        XCTAssertEqual(t.shape, [1, 3, 3, 5])
        XCTAssertEqual(t.layout, .nhwc([1, 3, 3, 5]))
        let f = Array(t.floats)
        XCTAssertEqual(f[0], 1, accuracy: 1e-5); XCTAssertEqual(f[1], -1, accuracy: 1e-5); XCTAssertEqual(f[2], -0.6, accuracy: 1e-5)
        // Logical (N, C, H, W) order through oneDNN: channel 2 everywhere -0.6.
        let logical = try t.toArray()
        XCTAssertEqual(logical[2 * 15 + 7], -0.6, accuracy: 1e-5)
        XCTAssertEqual(logical[0 * 15 + 14], 1, accuracy: 1e-5)
    }

    // MARK: helpers writing JPEG kinds through TurboJPEG directly

    private func grayJPEG(_ img: RGBImage) throws -> Data {
        try TurboJPEGTestWriter.compress(img.pixels, width: img.width, height: img.height, cmyk: false, gray: true)
    }

    private func cmykJPEG() throws -> Data {
        // Left half red (inverted CMYK: C=255 M=0 Y=0 K=255), right half white (all 255).
        var px = [UInt8](repeating: 255, count: 16 * 8 * 4)
        for y in 0..<8 { for x in 0..<8 { px[(y * 16 + x) * 4 + 1] = 0; px[(y * 16 + x) * 4 + 2] = 0 } }
        return try TurboJPEGTestWriter.compress(px, width: 16, height: 8, cmyk: true, gray: false)
    }
}
