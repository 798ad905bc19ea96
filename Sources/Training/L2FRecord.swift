/// One logged step of L2F training: `log.csv` is `step,l1,gan,d_av,d_vv,generator,discriminator,grad_norm`
/// (grad_norm empty in logs written before it was logged).
public struct L2FRecord: LoggedMetrics {
    public var step: Int
    public var terms: L2FLossTerms

    public init(step: Int, terms: L2FLossTerms) { (self.step, self.terms) = (step, terms) }

    public static let columns = ["l1", "gan", "d_av", "d_vv", "generator", "discriminator", "grad_norm"]

    public var values: [Double?] {
        [terms.l1, terms.gan, terms.audioVisual, terms.visualVisual, terms.generator, terms.discriminator, terms.gradientNorm]
    }

    public init?(step: Int, values v: [Double?]) {
        guard let l1 = v[0], let gan = v[1], let generator = v[4], let discriminator = v[5] else { return nil }
        self.init(step: step, terms: L2FLossTerms(l1: l1, gan: gan, audioVisual: v[2], visualVisual: v[3], generator: generator,
                                                  discriminator: discriminator, gradientNorm: v[6]))
    }

    /// loss.png: three panels over steps, each from 0 to the largest value in it — L1 (blue); GAN:
    /// generator (blue) and discriminator (red); sync: d_av (blue) and d_vv (red).
    static func panels(_ log: MetricsLog<L2FRecord>) -> [PlotPanel] {
        [
            PlotPanel("L1", curves: [.init(log.series("l1"), colour: PlotPanel.blue)]),
            PlotPanel("GAN: generator (blue), discriminator (red)", curves: [
                .init(log.series("gan"), colour: PlotPanel.blue), .init(log.series("discriminator"), colour: PlotPanel.red)]),
            PlotPanel("sync: d_av (blue), d_vv (red)", curves: [
                .init(log.series("d_av"), colour: PlotPanel.blue), .init(log.series("d_vv"), colour: PlotPanel.red)]),
        ]
    }
}
