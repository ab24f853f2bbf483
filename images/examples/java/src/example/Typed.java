package example;

import com.amazonaws.services.lambda.runtime.Context;
import com.amazonaws.services.lambda.runtime.RequestHandler;
import java.util.List;

/** A RequestHandler with a typed event (a POJO) and a typed result (a record). */
public class Typed implements RequestHandler<Typed.Order, Typed.Receipt> {
    public static class Order {
        public String item;
        private int quantity;
        private List<Double> prices;

        public int getQuantity() {
            return quantity;
        }

        public void setQuantity(int quantity) {
            this.quantity = quantity;
        }

        public List<Double> getPrices() {
            return prices;
        }

        public void setPrices(List<Double> prices) {
            this.prices = prices;
        }
    }

    public record Receipt(String item, int quantity, double total, String requestId) {}

    @Override
    public Receipt handleRequest(Order order, Context context) {
        if (order.quantity < 0) {
            throw new IllegalArgumentException("quantity must not be negative");
        }
        double total = 0;
        if (order.prices != null) {
            for (double p : order.prices) {
                total += p;
            }
        }
        return new Receipt(order.item, order.quantity, total * order.quantity, context.getAwsRequestId());
    }
}
