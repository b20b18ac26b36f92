import Foundation

/// Antialiased resizing of interleaved RGB bytes with a separable triangle filter whose
/// support grows with the downscale factor (as PIL's BILINEAR resize does), so shrinking
/// averages every input pixel instead of skipping some. Pixel centres are at i + 0.5.
public enum ImageResizer {
    /// Filter taps for one axis: for output index i, `count` weights starting at input `start[i]`.
    struct Taps {
        var start: [Int32]
        var weights: [Float]   // outSize * count
        var count: Int

        init(inSize: Int, outSize: Int) {
            let scale = Double(inSize) / Double(outSize)
            let filterScale = max(scale, 1)
            let support = filterScale   // triangle filter of radius 1, stretched when shrinking
            count = Int(ceil(support)) * 2 + 1
            start = [Int32](repeating: 0, count: outSize)
            weights = [Float](repeating: 0, count: outSize * count)
            var w = [Double](repeating: 0, count: count)
            for i in 0..<outSize {
                let centre = (Double(i) + 0.5) * scale
                let lo = max(Int(floor(centre - support + 0.5)), 0)
                let hi = min(Int(floor(centre + support + 0.5)), inSize)
                var total = 0.0
                var n = 0
                for j in lo..<max(hi, lo) where n < count {
                    let t = abs((Double(j) + 0.5 - centre) / filterScale)
                    w[n] = max(0, 1 - t)
                    total += w[n]
                    n += 1
                }
                if total == 0 {   // cannot happen for sane sizes; fall back to nearest
                    w[0] = 1; total = 1; n = max(n, 1)
                }
                start[i] = Int32(lo)
                for k in 0..<count { weights[i * count + k] = k < n ? Float(w[k] / total) : 0 }
            }
        }
    }

    /// Resizes `src` (w x h RGB) into `dst` (ow x oh RGB). Either axis left unchanged is copied.
    public static func resize(_ src: UnsafePointer<UInt8>, width w: Int, height h: Int,
                              into dst: UnsafeMutablePointer<UInt8>, width ow: Int, height oh: Int) {
        if w == ow && h == oh {
            dst.update(from: src, count: w * h * 3)
            return
        }
        if w == ow {
            vertical(src, width: w, height: h, into: dst, height: oh)
            return
        }
        if h == oh {
            horizontal(src, width: w, rows: h, into: dst, width: ow)
            return
        }
        let tmp = UnsafeMutablePointer<UInt8>.allocate(capacity: ow * h * 3)
        defer { tmp.deallocate() }
        horizontal(src, width: w, rows: h, into: tmp, width: ow)
        vertical(UnsafePointer(tmp), width: ow, height: h, into: dst, height: oh)
    }

    @inline(__always)
    static func clampByte(_ v: Float) -> UInt8 {
        let r = v + 0.5
        return r <= 0 ? 0 : r >= 255 ? 255 : UInt8(r)
    }

    static func horizontal(_ src: UnsafePointer<UInt8>, width w: Int, rows: Int,
                           into dst: UnsafeMutablePointer<UInt8>, width ow: Int) {
        let taps = Taps(inSize: w, outSize: ow)
        let k = taps.count
        taps.weights.withUnsafeBufferPointer { wb in
            taps.start.withUnsafeBufferPointer { sb in
                let weights = wb.baseAddress!, starts = sb.baseAddress!
                for y in 0..<rows {
                    let row = src + y * w * 3
                    let out = dst + y * ow * 3
                    for x in 0..<ow {
                        let s = Int(starts[x])
                        let n = min(k, w - s)
                        var r: Float = 0, g: Float = 0, b: Float = 0
                        let wx = weights + x * k
                        var p = row + s * 3
                        for t in 0..<n {
                            let c = wx[t]
                            r += c * Float(p[0]); g += c * Float(p[1]); b += c * Float(p[2])
                            p += 3
                        }
                        out[x * 3] = clampByte(r); out[x * 3 + 1] = clampByte(g); out[x * 3 + 2] = clampByte(b)
                    }
                }
            }
        }
    }

    static func vertical(_ src: UnsafePointer<UInt8>, width w: Int, height h: Int,
                         into dst: UnsafeMutablePointer<UInt8>, height oh: Int) {
        let taps = Taps(inSize: h, outSize: oh)
        let k = taps.count
        let rowBytes = w * 3
        let acc = UnsafeMutablePointer<Float>.allocate(capacity: rowBytes)
        defer { acc.deallocate() }
        taps.weights.withUnsafeBufferPointer { wb in
            taps.start.withUnsafeBufferPointer { sb in
                let weights = wb.baseAddress!, starts = sb.baseAddress!
                for y in 0..<oh {
                    let s = Int(starts[y])
                    let n = min(k, h - s)
                    acc.initialize(repeating: 0, count: rowBytes)
                    for t in 0..<n {
                        let c = weights[y * k + t]
                        if c == 0 { continue }
                        let row = src + (s + t) * rowBytes
                        for i in 0..<rowBytes { acc[i] += c * Float(row[i]) }
                    }
                    let out = dst + y * rowBytes
                    for i in 0..<rowBytes { out[i] = clampByte(acc[i]) }
                }
            }
        }
    }
}
