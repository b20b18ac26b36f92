import Foundation
import PetalCore
import PetalTestSupport
import XCTest
@testable import PetalData

/// Each augmentation's geometry: a bright dot must land where the transform says (worked
/// out by hand here, not from the implementation), and the photometric changes must keep
/// Keras's meanings.
final class AugmentationTests: XCTestCase {
    let side = 41   // odd: the centre is pixel 20 (centre at 20.5)

    func dotImage(x: Int, y: Int) -> RGBImage {
        var img = RGBImage(width: side, height: side)
        let i = (y * side + x) * 3
        img.pixels[i] = 255; img.pixels[i + 1] = 255; img.pixels[i + 2] = 255
        return img
    }

    /// The brightness-weighted centre of the red channel.
    func centroid(_ img: RGBImage) -> (x: Double, y: Double) {
        var sx = 0.0, sy = 0.0, total = 0.0
        for y in 0..<img.height { for x in 0..<img.width {
            let v = Double(img[x, y].r); sx += v * Double(x); sy += v * Double(y); total += v } }
        return (sx / total, sy / total)
    }

    func assertDot(_ sample: Augmentation.Sample, from p: (Int, Int), to q: (Double, Double),
                   file: StaticString = #filePath, line: UInt = #line) {
        let out = sample.warped(dotImage(x: p.0, y: p.1))
        let c = centroid(out)
        XCTAssertEqual(c.x, q.0, accuracy: 0.35, "x", file: file, line: line)
        XCTAssertEqual(c.y, q.1, accuracy: 0.35, "y", file: file, line: line)
        // forward() agrees with the pixels.
        let f = sample.forward(x: Float(p.0) + 0.5, y: Float(p.1) + 0.5, width: side, height: side)
        XCTAssertEqual(Double(f.x) - 0.5, q.0, accuracy: 0.01, file: file, line: line)
        XCTAssertEqual(Double(f.y) - 0.5, q.1, accuracy: 0.01, file: file, line: line)
    }

    func testFlips() {
        assertDot(.init(flipHorizontal: true), from: (5, 9), to: (35, 9))
        assertDot(.init(flipVertical: true), from: (5, 9), to: (5, 31))
        assertDot(.init(flipHorizontal: true, flipVertical: true), from: (5, 9), to: (35, 31))
    }

    func testRotationIsCounterClockwiseOnScreen() {
        // 90 degrees counter-clockwise: a point right of the centre goes above it.
        assertDot(.init(rotationDegrees: 90), from: (30, 20), to: (20, 10))
        assertDot(.init(rotationDegrees: -90), from: (30, 20), to: (20, 30))
        // 30 degrees: (dx, dy) = (10, 0) -> (10 cos 30, -10 sin 30).
        assertDot(.init(rotationDegrees: 30), from: (30, 20), to: (20 + 10 * cos(Double.pi / 6), 20 - 5))
    }

    func testShiftAndZoom() {
        assertDot(.init(shiftX: 4, shiftY: -3), from: (10, 10), to: (14, 7))
        // zoom 2 zooms out: offsets from the centre halve.
        assertDot(.init(zoom: 2), from: (30, 12), to: (25, 16))
        // zoom 0.5 zooms in: offsets double.
        assertDot(.init(zoom: 0.5), from: (24, 18), to: (28, 16))
    }

    func testComposedWarpIsOneTransform() {
        // Flip, then rotate 90 ccw, zoom out x2, shift (+3, +1): offset (8, -4) -> flip (-8, -4)
        // -> rotate (x c + y s, -x s + y c) with c=0, s=1: (-4, 8) -> zoom (-2, 4) -> shift (1, 5).
        assertDot(.init(flipHorizontal: true, rotationDegrees: 90, shiftX: 3, shiftY: 1, zoom: 2),
                  from: (28, 16), to: (21, 25))
    }

    func testReflectFillMirrorsAtTheEdges() {
        // Shifting right by 3 fills columns 0...2 with the mirror of the original columns 2...0.
        var img = RGBImage(width: 8, height: 2)
        for y in 0..<2 { for x in 0..<8 { img.pixels[(y * 8 + x) * 3] = UInt8(10 * (x + 1)) } }
        let out = Augmentation.Sample(shiftX: 3).warped(img)
        XCTAssertEqual((0..<8).map { Int(out[$0, 1].r) }, [30, 20, 10, 10, 20, 30, 40, 50])
    }

    func testSamplingRangesAndSwitches() {
        var rng = SplitMix64(seed: 9)
        let aug = Augmentation(horizontalFlip: true, verticalFlip: false, rotationDegrees: 15, widthShift: 0.1,
                               heightShift: 0.2, zoom: 0.25, brightness: 0.1, contrast: 0.3)
        var flips = 0
        for _ in 0..<2000 {
            let s = aug.sample(&rng, width: 200, height: 100)
            XCTAssertLessThanOrEqual(abs(s.rotationDegrees), 15)
            XCTAssertLessThanOrEqual(abs(s.shiftX), 20); XCTAssertLessThanOrEqual(abs(s.shiftY), 20)
            XCTAssertTrue((0.75...1.25).contains(s.zoom))
            XCTAssertLessThanOrEqual(abs(s.brightnessDelta), 25.5)
            XCTAssertTrue((0.7...1.3).contains(s.contrastFactor))
            XCTAssertFalse(s.flipVertical)
            if s.flipHorizontal { flips += 1 }
        }
        XCTAssertEqual(Double(flips) / 2000, 0.5, accuracy: 0.05)
        var r2 = SplitMix64(seed: 9)
        XCTAssertTrue(Augmentation.none.sample(&r2, width: 10, height: 10).isIdentityGeometry)
        // Codable round trip keeps the settings.
        let data = try! JSONEncoder().encode(aug)
        XCTAssertEqual(try! JSONDecoder().decode(Augmentation.self, from: data), aug)
        // Missing keys keep the defaults.
        let partial = try! JSONDecoder().decode(Augmentation.self, from: Data(#"{"zoom": 0.3, "verticalFlip": true}"#.utf8))
        XCTAssertEqual(partial.zoom, 0.3); XCTAssertTrue(partial.verticalFlip)
        XCTAssertEqual(partial.rotationDegrees, Augmentation.standard.rotationDegrees)
    }

    func testBrightnessAndContrastInBatches() throws {
        let dir = Fixtures.temporaryDirectory("petal-aug")
        defer { try? FileManager.default.removeItem(at: dir) }
        // Left half 50, right half 150 (grey).
        var img = RGBImage(width: 16, height: 16)
        for y in 0..<16 { for x in 0..<16 { for c in 0..<3 { img.pixels[(y * 16 + x) * 3 + c] = x < 8 ? 50 : 150 } } }
        _ = try PNGEncoder.encode(img).write(into: dir, "a/img.png")
        let cache = try ImageCache(files: try ImageFolder(dir).items, size: (16, 16))
        let identity = InputNormalization(scale: 1, offset: 0)
        // Brightness only: every value moves by the same delta within +-0.2*255.
        let bright = BatchLoader(cache: cache, batchSize: 1, shuffle: false,
                                 augmentation: Augmentation(horizontalFlip: false, rotationDegrees: 0, widthShift: 0, heightShift: 0,
                                                            zoom: 0, brightness: 0.2, contrast: 0),
                                 normalization: identity, seed: 5)
        let bTensor = Array(bright.epoch(0))[0].images   // keep the tensor alive while reading
        let b = Array(bTensor.floats)
        let delta = b[0] - 50
        XCTAssertLessThanOrEqual(abs(delta), 51); XCTAssertGreaterThan(abs(delta), 0)
        XCTAssertEqual(b[15 * 3] - 150, delta, accuracy: 1e-4)
        // Contrast only: mean 100 stays, the distance to it scales by the same factor.
        let contrast = BatchLoader(cache: cache, batchSize: 1, shuffle: false,
                                   augmentation: Augmentation(horizontalFlip: false, rotationDegrees: 0, widthShift: 0, heightShift: 0,
                                                              zoom: 0, brightness: 0, contrast: 0.5),
                                   normalization: identity, seed: 5)
        let cTensor = Array(contrast.epoch(0))[0].images
        let c = Array(cTensor.floats)
        XCTAssertEqual((c[0] + c[15 * 3]) / 2, 100, accuracy: 1e-3)
        let factor = (c[15 * 3] - 100) / 50
        XCTAssertTrue((0.5...1.5).contains(factor)); XCTAssertNotEqual(factor, 1)
    }
}
