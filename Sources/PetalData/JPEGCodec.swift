import CTurboJPEG
import Foundation

/// JPEG decoding and encoding with libjpeg-turbo's TurboJPEG API.
enum JPEGCodec {
    struct Header {
        var width: Int
        var height: Int
        var colorspace: Int32
    }

    static func errorText(_ handle: tjhandle?) -> String {
        String(cString: tjGetErrorStr2(handle))
    }

    static func header(_ bytes: UnsafeRawBufferPointer, path: String) throws -> Header {
        guard let handle = tjInitDecompress() else {
            throw DataError.undecodable(path: path, reason: "cannot start the JPEG decoder")
        }
        defer { tjDestroy(handle) }
        var w: Int32 = 0, h: Int32 = 0, subsamp: Int32 = 0, cs: Int32 = 0
        let base = bytes.baseAddress!.assumingMemoryBound(to: UInt8.self)
        if tjDecompressHeader3(handle, base, UInt(bytes.count), &w, &h, &subsamp, &cs) != 0 {
            let n = bytes.count
            let ended = n >= 2 && bytes[n - 2] == 0xFF && bytes[n - 1] == 0xD9
            let what = ended ? "not a readable JPEG" : "truncated or corrupt JPEG (no end-of-image marker)"
            throw DataError.undecodable(path: path, reason: "\(what): \(errorText(handle))")
        }
        // libjpeg-turbo accepts a header cut off before its frame marker and reports 0x0.
        guard w > 0, h > 0 else {
            throw DataError.undecodable(path: path, reason: "truncated or corrupt JPEG (no image size in the header)")
        }
        return Header(width: Int(w), height: Int(h), colorspace: cs)
    }

    /// The scale (num/denom) to decode at: the smallest DCT scaling factor whose result still
    /// covers `minWidth` x `minHeight`, used only when the image is at least twice that size.
    static func scalingFactor(width: Int, height: Int, minWidth: Int, minHeight: Int) -> (num: Int, denom: Int) {
        guard minWidth > 0, minHeight > 0, width >= 2 * minWidth, height >= 2 * minHeight else { return (1, 1) }
        var n: Int32 = 0
        guard let factors = tjGetScalingFactors(&n) else { return (1, 1) }
        var best = (num: 1, denom: 1)
        for i in 0..<Int(n) {
            let f = factors[i]
            let num = Int(f.num), denom = Int(f.denom)
            guard num < denom else { continue }
            let sw = (width * num + denom - 1) / denom, sh = (height * num + denom - 1) / denom
            if sw >= minWidth && sh >= minHeight && num * best.denom < best.num * denom {
                best = (num, denom)
            }
        }
        return best
    }

    /// Decodes to RGB, scaled down by DCT scaling so that the result still covers the
    /// given minimum size (pass 0 for full size). CMYK/YCCK files are converted to RGB
    /// assuming Adobe's inverted CMYK (as libjpeg-turbo and PIL do).
    static func decode(_ bytes: UnsafeRawBufferPointer, path: String, minWidth: Int = 0, minHeight: Int = 0,
                       maxPixels: Int) throws -> RGBImage {
        let head = try header(bytes, path: path)
        if head.width * head.height > maxPixels {
            throw DataError.tooLarge(path: path, width: head.width, height: head.height, limit: maxPixels)
        }
        guard let handle = tjInitDecompress() else {
            throw DataError.undecodable(path: path, reason: "cannot start the JPEG decoder")
        }
        defer { tjDestroy(handle) }
        let f = scalingFactor(width: head.width, height: head.height, minWidth: minWidth, minHeight: minHeight)
        let w = (head.width * f.num + f.denom - 1) / f.denom
        let h = (head.height * f.num + f.denom - 1) / f.denom
        let cmyk = head.colorspace == Int32(TJCS_CMYK.rawValue) || head.colorspace == Int32(TJCS_YCCK.rawValue)
        let channels = cmyk ? 4 : 3
        let format = cmyk ? TJPF_CMYK : TJPF_RGB
        var raw = [UInt8](repeating: 0, count: w * h * channels)
        let base = bytes.baseAddress!.assumingMemoryBound(to: UInt8.self)
        let status = raw.withUnsafeMutableBufferPointer { dst in
            tjDecompress2(handle, base, UInt(bytes.count), dst.baseAddress!, Int32(w), 0, Int32(h),
                          Int32(format.rawValue), 0)
        }
        if status != 0 {
            let message = errorText(handle)
            let warning = tjGetErrorCode(handle) == Int32(TJERR_WARNING.rawValue)
            // Minor corruption warnings (extraneous bytes etc.) still give a full image, as
            // other readers accept; a file that ends early is refused as truncated.
            if !warning || message.contains("Premature end") {
                let reason = message.contains("Premature end") ? "truncated JPEG (\(message))" : "JPEG decoding failed (\(message))"
                throw DataError.undecodable(path: path, reason: reason)
            }
        }
        guard cmyk else { return RGBImage(width: w, height: h, pixels: raw) }
        var rgb = [UInt8](repeating: 0, count: w * h * 3)
        raw.withUnsafeBufferPointer { s in
            rgb.withUnsafeMutableBufferPointer { d in
                for i in 0..<(w * h) {
                    let k = UInt32(s[i * 4 + 3])
                    for c in 0..<3 { d[i * 3 + c] = UInt8((UInt32(s[i * 4 + c]) * k + 127) / 255) }
                }
            }
        }
        return RGBImage(width: w, height: h, pixels: rgb)
    }

    /// The EXIF orientation (1...8) from the first APP1 Exif segment, or 1 when there is none.
    /// Parsed by hand: markers from SOI to SOS, then the TIFF header and IFD0's tag 0x0112.
    static func exifOrientation(_ b: UnsafeRawBufferPointer) -> Int {
        let n = b.count
        guard n >= 4, b[0] == 0xFF, b[1] == 0xD8 else { return 1 }
        var p = 2
        while p + 4 <= n {
            guard b[p] == 0xFF else { return 1 }
            let marker = b[p + 1]
            if marker == 0xFF { p += 1; continue }                  // fill byte
            if marker == 0xDA || marker == 0xD9 { return 1 }       // start of scan / end of image
            if (0xD0...0xD7).contains(marker) || marker == 0x01 { p += 2; continue }
            let length = Int(b[p + 2]) << 8 | Int(b[p + 3])
            guard length >= 2, p + 2 + length <= n else { return 1 }
            let seg = p + 4, segEnd = p + 2 + length
            if marker == 0xE1, segEnd - seg >= 14,
               b[seg] == 0x45, b[seg + 1] == 0x78, b[seg + 2] == 0x69, b[seg + 3] == 0x66, b[seg + 4] == 0, b[seg + 5] == 0 {
                return tiffOrientation(b, from: seg + 6, to: segEnd) ?? 1
            }
            p = segEnd
        }
        return 1
    }

    static func tiffOrientation(_ b: UnsafeRawBufferPointer, from t: Int, to end: Int) -> Int? {
        guard end - t >= 8 else { return nil }
        let little: Bool
        if b[t] == 0x49 && b[t + 1] == 0x49 { little = true } else if b[t] == 0x4D && b[t + 1] == 0x4D { little = false } else { return nil }
        func u16(_ o: Int) -> Int? {
            guard o >= t, o + 2 <= end else { return nil }
            return little ? Int(b[o]) | Int(b[o + 1]) << 8 : Int(b[o]) << 8 | Int(b[o + 1])
        }
        func u32(_ o: Int) -> Int? {
            guard let a = u16(o), let c = u16(o + 2) else { return nil }
            return little ? a | c << 16 : a << 16 | c
        }
        guard u16(t + 2) == 42, let ifd = u32(t + 4), let count = u16(t + ifd) else { return nil }
        for i in 0..<count {
            let entry = t + ifd + 2 + i * 12
            guard let tag = u16(entry) else { return nil }
            if tag == 0x0112 {
                guard u16(entry + 2) == 3, let value = u16(entry + 8), (1...8).contains(value) else { return nil }
                return value
            }
        }
        return nil
    }

    /// Encodes RGB pixels as a baseline JPEG (4:2:0 unless `quality` >= 95, then 4:4:4).
    static func encode(_ image: RGBImage, quality: Int) throws -> Data {
        guard let handle = tjInitCompress() else {
            throw DataError.undecodable(path: "<memory>", reason: "cannot start the JPEG encoder")
        }
        defer { tjDestroy(handle) }
        var out: UnsafeMutablePointer<UInt8>? = nil
        var size: UInt = 0
        let subsamp = quality >= 95 ? TJSAMP_444 : TJSAMP_420
        let status = image.pixels.withUnsafeBufferPointer { src in
            tjCompress2(handle, src.baseAddress!, Int32(image.width), 0, Int32(image.height), Int32(TJPF_RGB.rawValue),
                        &out, &size, Int32(subsamp.rawValue), Int32(max(1, min(100, quality))), 0)
        }
        defer { if let out { tjFree(out) } }
        guard status == 0, let out else {
            throw DataError.undecodable(path: "<memory>", reason: "JPEG encoding failed (\(errorText(handle)))")
        }
        return Data(bytes: out, count: Int(size))
    }
}

/// Writes JPEG files, e.g. thumbnails for reports and images for tests.
public enum JPEGEncoder {
    /// The image as JPEG bytes.
    public static func encode(_ image: RGBImage, quality: Int = 90) throws -> Data {
        try JPEGCodec.encode(image, quality: quality)
    }

    /// Writes the image as a JPEG file (to a temporary name, then renamed).
    public static func write(_ image: RGBImage, to url: URL, quality: Int = 90) throws {
        try encode(image, quality: quality).writeAtomically(to: url)
    }
}
