// Creates a topic with P partitions through Kafka's Admin API: java -cp "<kafka libs>/*" CreateTopic.java BROKERS TOPIC P
import org.apache.kafka.clients.admin.*;
import java.util.*;
public class CreateTopic {
  public static void main(String[] a) throws Exception {
    Properties p = new Properties(); p.put("bootstrap.servers", a[0]);
    try (Admin admin = Admin.create(p)) {
      admin.createTopics(List.of(new NewTopic(a[1], Integer.parseInt(a[2]), (short)1))).all().get();
    }
  }
}
