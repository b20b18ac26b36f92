import CPNG
import Foundation

/// PNG decoding and encoding with libpng's simplified `png_image` API.
///
/// Grayscale, palette and 16-bit files are expanded/reduced to 8-bit RGBA by libpng (16-bit
/// files without gamma information are taken as sRGB-encoded, so reduction keeps the values'
/// high byte, as PIL does); alpha is then composited onto WHITE, the usual page background,
/// so transparent product photos and icons keep a neutral background.
enum PNGCodec {
    static let formatRGBA: UInt32 = 3      // PNG_FORMAT_RGBA (COLOR | ALPHA)
    static let formatRGB: UInt32 = 2       // PNG_FORMAT_RGB
    static let flag16BitSRGB: UInt32 = 4   // PNG_IMAGE_FLAG_16BIT_sRGB

    static func message(_ image: inout png_image) -> String {
        withUnsafeBytes(of: &image.message) { raw in
            let bytes = raw.prefix { $0 != 0 }
            return String(decoding: bytes, as: UTF8.self)
        }
    }

    static func decode(_ bytes: UnsafeRawBufferPointer, path: String, maxPixels: Int) throws -> RGBImage {
        var image = png_image()
        image.version = UInt32(PNG_IMAGE_VERSION)
        guard png_image_begin_read_from_memory(&image, bytes.baseAddress, bytes.count) != 0 else {
            let text = message(&image)
            png_image_free(&image)
            throw DataError.undecodable(path: path, reason: "not a readable PNG (\(text))")
        }
        let w = Int(image.width), h = Int(image.height)
        // Both sides are UInt32, so the product fits in Int (64-bit).
        if w * h > maxPixels {
            png_image_free(&image)
            throw DataError.tooLarge(path: path, width: w, height: h, limit: maxPixels)
        }
        image.flags |= flag16BitSRGB
        image.format = formatRGBA
        var rgba = [UInt8](repeating: 0, count: w * h * 4)
        let ok = rgba.withUnsafeMutableBytes { dst in
            png_image_finish_read(&image, nil, dst.baseAddress, 0, nil)
        }
        if ok == 0 {
            let text = message(&image)
            png_image_free(&image)
            let reason = text.contains("EOF") || text.contains("end") ? "truncated PNG (\(text))" : "PNG decoding failed (\(text))"
            throw DataError.undecodable(path: path, reason: reason)
        }
        var rgb = [UInt8](repeating: 0, count: w * h * 3)
        rgba.withUnsafeBufferPointer { s in
            rgb.withUnsafeMutableBufferPointer { d in
                for i in 0..<(w * h) {
                    let a = UInt32(s[i * 4 + 3])
                    if a == 255 {
                        d[i * 3] = s[i * 4]; d[i * 3 + 1] = s[i * 4 + 1]; d[i * 3 + 2] = s[i * 4 + 2]
                    } else {
                        let white = 255 * (255 - a)
                        for c in 0..<3 { d[i * 3 + c] = UInt8((UInt32(s[i * 4 + c]) * a + white + 127) / 255) }
                    }
                }
            }
        }
        return RGBImage(width: w, height: h, pixels: rgb)
    }

    /// 8-bit RGB or RGBA pixels as PNG bytes.
    static func encode(pixels: [UInt8], width: Int, height: Int, alpha: Bool) throws -> Data {
        guard width > 0, height > 0, let w = UInt32(exactly: width), let h = UInt32(exactly: height),
              pixels.count == width * height * (alpha ? 4 : 3) else {
            throw DataError.undecodable(path: "<memory>", reason: "cannot encode \(pixels.count) bytes as a \(width)x\(height) PNG")
        }
        var image = png_image()
        image.version = UInt32(PNG_IMAGE_VERSION)
        image.width = w
        image.height = h
        image.format = alpha ? formatRGBA : formatRGB
        var size = 0
        let first = pixels.withUnsafeBytes { src in
            png_image_write_to_memory(&image, nil, &size, 0, src.baseAddress, 0, nil)
        }
        guard first != 0, size > 0 else {
            throw DataError.undecodable(path: "<memory>", reason: "PNG encoding failed (\(message(&image)))")
        }
        var out = Data(count: size)
        let ok = out.withUnsafeMutableBytes { dst in
            pixels.withUnsafeBytes { src in
                png_image_write_to_memory(&image, dst.baseAddress, &size, 0, src.baseAddress, 0, nil)
            }
        }
        guard ok != 0 else {
            throw DataError.undecodable(path: "<memory>", reason: "PNG encoding failed (\(message(&image)))")
        }
        return out.prefix(size)
    }
}

/// Writes PNG files (8-bit RGB, or RGBA with `alpha`).
public enum PNGEncoder {
    public static func encode(_ image: RGBImage) throws -> Data {
        try PNGCodec.encode(pixels: image.pixels, width: image.width, height: image.height, alpha: false)
    }

    /// RGBA bytes (`width * height * 4`) as PNG.
    public static func encode(rgba: [UInt8], width: Int, height: Int) throws -> Data {
        try PNGCodec.encode(pixels: rgba, width: width, height: height, alpha: true)
    }

    public static func write(_ image: RGBImage, to url: URL) throws {
        try encode(image).writeAtomically(to: url)
    }
}

extension PNGCodec {
    static func header(_ bytes: UnsafeRawBufferPointer, path: String) throws -> (width: Int, height: Int) {
        var image = png_image()
        image.version = UInt32(PNG_IMAGE_VERSION)
        defer { png_image_free(&image) }
        guard png_image_begin_read_from_memory(&image, bytes.baseAddress, bytes.count) != 0 else {
            throw DataError.undecodable(path: path, reason: "not a readable PNG (\(message(&image)))")
        }
        return (Int(image.width), Int(image.height))
    }
}
