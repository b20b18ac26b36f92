import Foundation

/// An 8-bit RGB image, rows top to bottom, pixels interleaved (R, G, B), no padding.
public struct RGBImage: Sendable, Equatable {
    public var width: Int
    public var height: Int
    /// `width * height * 3` bytes.
    public var pixels: [UInt8]

    public init(width: Int, height: Int, pixels: [UInt8]) {
        precondition(pixels.count == width * height * 3, "RGBImage: \(pixels.count) bytes for \(width)x\(height)")
        self.width = width
        self.height = height
        self.pixels = pixels
    }

    /// A black image.
    public init(width: Int, height: Int) {
        self.init(width: width, height: height, pixels: [UInt8](repeating: 0, count: width * height * 3))
    }

    /// The pixel at (x, y) as (r, g, b).
    public subscript(x: Int, y: Int) -> (r: UInt8, g: UInt8, b: UInt8) {
        let i = (y * width + x) * 3
        return (pixels[i], pixels[i + 1], pixels[i + 2])
    }

    /// This image resized with an antialiased triangle filter (see `ImageResizer`).
    public func resized(width w: Int, height h: Int) -> RGBImage {
        if w == width && h == height { return self }
        var out = [UInt8](repeating: 0, count: w * h * 3)
        pixels.withUnsafeBufferPointer { src in
            out.withUnsafeMutableBufferPointer { dst in
                ImageResizer.resize(src.baseAddress!, width: width, height: height,
                                    into: dst.baseAddress!, width: w, height: h)
            }
        }
        return RGBImage(width: w, height: h, pixels: out)
    }

    /// This image turned upright according to an EXIF orientation (1...8; others leave it as is).
    public func oriented(_ orientation: Int) -> RGBImage {
        guard (2...8).contains(orientation) else { return self }
        let swaps = orientation >= 5
        let ow = swaps ? height : width, oh = swaps ? width : height
        var out = [UInt8](repeating: 0, count: ow * oh * 3)
        let w = width, h = height
        pixels.withUnsafeBufferPointer { srcBuf in
            out.withUnsafeMutableBufferPointer { dstBuf in
                let src = srcBuf.baseAddress!, dst = dstBuf.baseAddress!
                for dy in 0..<oh {
                    for dx in 0..<ow {
                        // The stored pixel that is displayed at (dx, dy).
                        let sx: Int, sy: Int
                        switch orientation {
                        case 2: sx = w - 1 - dx; sy = dy                 // mirrored horizontally
                        case 3: sx = w - 1 - dx; sy = h - 1 - dy         // rotated 180
                        case 4: sx = dx; sy = h - 1 - dy                 // mirrored vertically
                        case 5: sx = dy; sy = dx                         // transposed
                        case 6: sx = dy; sy = h - 1 - dx                 // needs 90 degrees clockwise
                        case 7: sx = w - 1 - dy; sy = h - 1 - dx         // transversed
                        default: sx = w - 1 - dy; sy = dx                // 8: needs 90 degrees counter-clockwise
                        }
                        let s = (sy * w + sx) * 3, d = (dy * ow + dx) * 3
                        dst[d] = src[s]; dst[d + 1] = src[s + 1]; dst[d + 2] = src[s + 2]
                    }
                }
            }
        }
        return RGBImage(width: ow, height: oh, pixels: out)
    }
}
